"""``GET /api/clients/platforms``: what the connection form needs, and never a value."""

from __future__ import annotations

import httpx

from tests.api.conftest import TokenMaker


def test_every_platform_is_described_with_its_credential_fields(client: httpx.Client) -> None:
    response = client.get("/api/clients/platforms")
    assert response.status_code == 200
    platforms = response.json()["platforms"]
    assert set(platforms) == {"meta_ads", "google_ads", "tiktok_ads", "shopify", "ga4"}
    meta = platforms["meta_ads"]
    assert meta["display_name"] == "Meta Ads" and meta["icon"]
    fields = {field["name"]: field for field in meta["credentials"]}
    assert fields["access_token"]["secret"] is True and fields["access_token"]["required"] is True
    assert fields["ad_account_id"]["secret"] is False
    google = {field["name"]: field for field in platforms["google_ads"]["credentials"]}
    assert google["login_customer_id"]["required"] is False
    assert {"developer_token", "client_secret", "refresh_token"} <= {n for n, f in google.items() if f["secret"]}
    for platform in platforms.values():
        for field in platform["credentials"]:
            assert set(field) == {"name", "type", "required", "secret", "help_text"}
            assert field["help_text"]


def test_any_authenticated_caller_may_read_platforms(api_url: str, make_token: TokenMaker) -> None:
    headers = {"Authorization": f"Bearer {make_token(permissions=[], companies=[])}"}
    assert httpx.get(f"{api_url}/api/clients/platforms", headers=headers).status_code == 200
    assert httpx.get(f"{api_url}/api/clients/platforms").status_code == 401
