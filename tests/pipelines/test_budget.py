"""What each platform says of its budget, read by its client from the emulator over HTTP, and the waits made for it.

Each case runs the platform's real connection test (or a load) with a ``Budget`` against an emulator told what to
report; the expected readings and reasons are written by hand from the platform's documented shapes.
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from pipelines import ga4, google_ads, shopify
from pipelines.budget import Budget
from pipelines.emulator.accounts import emulator_credentials
from tally.settings import Settings

SHOP = emulator_credentials("shopify", 1)["store_url"].removesuffix(".myshopify.com")


def test_a_nearly_full_shopify_bucket_is_waited_on_until_it_has_leaked_back_to_90_percent(
    emulator: httpx.Client, settings: Settings
) -> None:
    # 93% of 40 calls is 37: one call over the 36 of the nearly-full line, half a second at two calls a second.
    emulator.put(f"/_emulator/faults/shopify/{SHOP}", json={"budget_used_pct": 93}).raise_for_status()
    budget = Budget()
    credentials = shopify.SPEC.credentials_model.model_validate(emulator_credentials("shopify", 1))

    assert shopify.test_connection(credentials, settings, budget).success

    reason = "Shopify reported 92% used (X-Shopify-Shop-Api-Call-Limit: 37/40)"
    assert [(wait.seconds, wait.reason) for wait in budget.waits] == [(0.5, reason)] * 2  # shop.json, access_scopes
    reading = budget.stored_reading()
    assert reading is not None
    assert (reading["source"], reading["used_pct"], reading["nearly_spent"]) == (
        "X-Shopify-Shop-Api-Call-Limit",
        92.5,
        True,
    )
    assert reading["detail"] == {"calls": 37, "bucket_size": 40}


def test_a_google_ads_quota_error_is_read_as_a_spent_budget_and_waited_on(
    emulator: httpx.Client, settings: Settings
) -> None:
    credentials = google_ads.SPEC.credentials_model.model_validate(emulator_credentials("google_ads", 1))
    plan = {"rate_limit": 1, "retry_after_seconds": 1}
    emulator.put(f"/_emulator/faults/google_ads/{credentials.customer_id}", json=plan).raise_for_status()
    budget = Budget()

    assert google_ads.test_connection(credentials, settings, budget).success

    [wait] = budget.waits
    assert (wait.seconds, wait.reason) == (1, "Google Ads throttled with HTTP 429 (Retry-After: 1)")
    # The retry's answer reports nothing: the quota error stays the last word on the budget.
    reading = budget.stored_reading()
    assert reading is not None and (reading["source"], reading["used_pct"]) == ("quotaError", 100)
    assert reading["retry_after_s"] == 1
    assert reading["detail"]["quota_error"] == "RESOURCE_TEMPORARILY_EXHAUSTED"
    assert reading["detail"]["retryDelay"] == "1s"


def test_ga4_reports_its_property_quota_with_each_report(emulator: httpx.Client, settings: Settings) -> None:
    credentials = ga4.SPEC.credentials_model.model_validate(emulator_credentials("ga4", 1))
    emulator.put(f"/_emulator/faults/ga4/{credentials.property_id}", json={"budget_used_pct": 92}).raise_for_status()
    budget = Budget()
    end = date.today() - timedelta(days=1)

    source = ga4.source(credentials, end - timedelta(days=2), end, "co", settings, budget)
    assert list(source.resources["traffic_daily"])

    reading = budget.stored_reading()
    assert reading is not None
    assert (reading["source"], reading["used_pct"], reading["nearly_spent"]) == ("propertyQuota.tokensPerDay", 92, True)
    assert reading["detail"]["tokensPerDay"] == {"consumed": 184_000, "remaining": 16_000}
    assert budget.waits == []  # GA4 names no wait: the load goes on, and the health warns


@pytest.mark.parametrize("used_pct", [None, 50])
def test_a_budget_not_nearly_spent_is_not_waited_on(
    emulator: httpx.Client, settings: Settings, used_pct: int | None
) -> None:
    if used_pct is not None:
        emulator.put(f"/_emulator/faults/shopify/{SHOP}", json={"budget_used_pct": used_pct}).raise_for_status()
    budget = Budget()
    credentials = shopify.SPEC.credentials_model.model_validate(emulator_credentials("shopify", 1))

    assert shopify.test_connection(credentials, settings, budget).success

    reading = budget.stored_reading()
    assert budget.waits == [] and reading is not None and reading["nearly_spent"] is False
