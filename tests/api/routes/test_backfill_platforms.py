"""A backfill loads the registry's ad platforms only, and says which they are when a company has none of them."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.api.routes.test_runs import BASE, connect, requests_in_outbox


def test_a_backfill_without_an_ad_platform_is_400_naming_the_ad_platforms(
    client: httpx.Client, app_engine: sa.Engine
) -> None:
    connect(client, "shopify")
    response = client.post(f"{BASE}/backfill", json={"days": 30})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The company has no active ad platform connection (meta_ads, google_ads, tiktok_ads)"
    }
    assert requests_in_outbox(app_engine) == []
