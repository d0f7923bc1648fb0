"""Connection health and loads that respect the platform's budget, as the product sees them over HTTP.

The product connects and asks for a sync over loopback HTTP; the run goes through the real sensor, job and assets
(in process) against the emulator, which is told to report an expiring token, a missing scope, a nearly spent
budget or a spent one with ``Retry-After``. What the product must see is in ``GET .../connections``; the expected
warnings are written here by hand, the expected expiry read from the emulator's own ``debug_token``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dagster as dg
import httpx
import pytest

from orchestration.assets.raw import client_raw_asset_key
from orchestration.resources import TallyResource
from pipelines.emulator.accounts import emulator_credentials
from tests.orchestration.conftest import PRODUCT_COMPANY, execute, outbox, tick

CONNECTIONS = f"/api/clients/{PRODUCT_COMPANY}/connections"
META_ACCOUNT = emulator_credentials("meta_ads", 1)["ad_account_id"]
SHOP = emulator_credentials("shopify", 1)["store_url"].removesuffix(".myshopify.com")
RETRY_AFTER_S = 2


def connect(product: httpx.Client, platform: str) -> dict[str, Any]:
    """POST a connection to the platform's first emulated account; the connection the API answered with."""
    response = product.post(CONNECTIONS, json={"platform": platform, "credentials": emulator_credentials(platform, 1)})
    assert response.status_code == 201, response.text
    return response.json()["connection"]


def listed(product: httpx.Client, connection_id: str) -> dict[str, Any]:
    """One connection as GET /connections lists it."""
    response = product.get(CONNECTIONS)
    assert response.status_code == 200, response.text
    return next(entry for entry in response.json()["connections"] if entry["id"] == connection_id)


def sync(instance: dg.DagsterInstance, tally: TallyResource, product: httpx.Client) -> bool:
    """Ask for a sync over HTTP and run what the sensor launches; whether the run and the request succeeded."""
    assert product.post(f"{CONNECTIONS}/sync").status_code == 202
    [run_request] = tick(instance, tally).run_requests
    succeeded = execute(instance, tally, run_request)
    return succeeded and outbox(tally)[-1]["status"] == "succeeded"


def fault(emulator: httpx.Client, platform: str, account: str, **plan: Any) -> None:
    emulator.put(f"/_emulator/faults/{platform}/{account}", json=plan).raise_for_status()


def emulator_expiry(emulator: httpx.Client) -> datetime:
    """The token expiry Meta's emulated debug_token reports, read over HTTP."""
    answer = emulator.get("/v23.0/debug_token", params={"input_token": "oracle-token", "access_token": "oracle-token"})
    return datetime.fromtimestamp(answer.raise_for_status().json()["data"]["expires_at"], UTC)


@pytest.mark.parametrize(
    ("platform", "account", "plan", "status", "warning"),
    [
        pytest.param(
            "meta_ads", "me", {"token_expires_in_days": 5}, "warning", "the token expires in 5 days", id="expiring"
        ),
        pytest.param(
            "shopify",
            SHOP,
            {"missing_scopes": ["read_all_orders"]},
            "warning",
            "scope read_all_orders is missing: orders older than 60 days cannot be loaded",
            id="missing_scope",
        ),
        pytest.param(
            "meta_ads",
            META_ACCOUNT,
            {"budget_used_pct": 95},
            "active",
            "Meta Ads reports 95% of its call budget used (x-business-use-case-usage): loads wait as it asks",
            id="nearly_spent_budget",
        ),
    ],
)
def test_a_health_signal_found_by_a_load_is_listed_with_its_warning_and_the_load_still_succeeds(
    instance: dg.DagsterInstance,
    tally: TallyResource,
    product: httpx.Client,
    emulator: httpx.Client,
    platform: str,
    account: str,
    plan: dict[str, Any],
    status: str,
    warning: str,
) -> None:
    connection = connect(product, platform)
    assert connection["status"] == "active" and connection["health"]["warnings"] == []
    fault(emulator, platform, account, **plan)

    assert sync(instance, tally, product)

    found = listed(product, connection["id"])
    assert found["status"] == status
    assert found["health"]["warnings"] == [warning]
    assert found["last_synced_at"] is not None and found["last_sync_error"] is None
    if "token_expires_in_days" in plan:
        expected = emulator_expiry(emulator)
        assert found["token_expires_at"] == found["health"]["token_expires_at"]
        assert abs(datetime.fromisoformat(found["health"]["token_expires_at"]) - expected).total_seconds() < 5
    if "missing_scopes" in plan:
        assert found["health"]["missing_scopes"] == plan["missing_scopes"]
        assert "read_all_orders" not in found["scopes"]
    if "budget_used_pct" in plan:
        rate_limit = found["health"]["rate_limit"]
        assert (rate_limit["used_pct"], rate_limit["nearly_spent"]) == (95, True)


@pytest.fixture()
def patient_tally(tally: TallyResource, monkeypatch: pytest.MonkeyPatch) -> TallyResource:
    """The Tally resource allowed to wait longer than ``Retry-After`` between attempts (the other tests cap it at
    1 s); set before anything reads the resource's settings."""
    monkeypatch.setenv("TALLY_HTTP_MAX_RETRY_DELAY_SECONDS", str(4 * RETRY_AFTER_S))
    return tally


def test_a_spent_budget_is_waited_on_as_retry_after_asks_and_the_run_says_how_long_and_why(
    patient_tally: TallyResource, instance: dg.DagsterInstance, product: httpx.Client, emulator: httpx.Client
) -> None:
    connection = connect(product, "meta_ads")
    served_before = emulator.get(f"/_emulator/requests/meta_ads/{META_ACCOUNT}").json()["requests"]
    fault(emulator, "meta_ads", META_ACCOUNT, rate_limit=1, retry_after_seconds=RETRY_AFTER_S)

    assert sync(instance, patient_tally, product)

    arrivals = emulator.get(f"/_emulator/requests/meta_ads/{META_ACCOUNT}").json()["arrivals"]
    throttled, retried = arrivals[served_before], arrivals[served_before + 1]
    assert RETRY_AFTER_S <= retried - throttled <= 2 * RETRY_AFTER_S
    key = client_raw_asset_key("meta_ads", "campaign_daily", PRODUCT_COMPANY)
    [record] = instance.fetch_materializations(key, limit=1).records
    metadata = record.asset_materialization.metadata
    assert metadata["budget_wait_s"].value == RETRY_AFTER_S
    [wait] = metadata["budget_waits"].value
    assert wait == {"seconds": RETRY_AFTER_S, "reason": "Meta Ads throttled with HTTP 429 (Retry-After: 2)"}
    assert listed(product, connection["id"])["last_sync_error"] is None
