"""Loading Google Ads through dlt into DuckDB, against the emulator over loopback HTTP."""

from __future__ import annotations

import hashlib
import math
import traceback
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import dlt
import httpx
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import google_ads
from pipelines.emulator import synthetic
from pipelines.google_ads import GoogleAdsCredentials
from tally.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformRateLimited,
    PlatformResponseError,
    PlatformUnavailable,
)
from tally.settings import Settings
from tests.pipelines.google_ads.served import END, START, cost_micros, delivered, replaced
from tests.pipelines.loading import (
    assert_no_secret_in_files,
    assert_no_secret_logged_or_raised,
    platform_error,
    query,
    requests_made,
    run_source,
)

DAILY = "raw_google_ads.campaign_daily"
CAMPAIGNS = "raw_google_ads.campaigns"
PAGE = 7


def load(settings: Settings, credentials: GoogleAdsCredentials, start: date = START, end: date = END) -> dlt.Pipeline:
    return run_source("google_ads", google_ads.source, settings, credentials, credentials.customer_id, start, end)


def small_pages(emulator: httpx.Client, customer_id: str, **faults: Any) -> None:
    emulator.put(f"/_emulator/faults/google_ads/{customer_id}", json={"page_size": PAGE, **faults})


def requests_for(customer_id: str, start: date = START, end: date = END) -> int:
    """The customer query, then every page of the daily report and of the campaign list (an empty one is one)."""
    daily = max(1, math.ceil(len(delivered(customer_id, start, end)) / PAGE))
    return 1 + daily + math.ceil(len(synthetic.campaigns("google_ads", customer_id)) / PAGE)


def test_a_90_day_pull_loads_exactly_the_rows_the_report_served(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    small_pages(emulator, credentials.customer_id)
    load(settings, credentials)

    served = delivered(credentials.customer_id, START, END)
    count, cost, conversions, value, keys, first, last = query(
        settings,
        f"select count(*), sum(coalesce(metrics_cost_micros, '0')::hugeint), sum(coalesce(metrics_conversions, 0)), "
        f"sum(coalesce(metrics_conversions_value, 0)), count(distinct (campaign_id, date)), min(date), max(date) "
        f"from {DAILY}",
    )[0]
    assert count == keys == len(served) >= 150
    assert cost == cost_micros(served)
    assert conversions == sum(metrics.conversions for _, _, metrics in served)
    assert round(Decimal(str(value)), 2) == sum(metrics.conversion_value for _, _, metrics in served)
    assert (first, last) == (min(day for _, day, _ in served), max(day for _, day, _ in served))
    assert requests_made(emulator, "google_ads", credentials.customer_id) == requests_for(credentials.customer_id)


def test_rows_keep_google_s_raw_values_beside_the_account_columns(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    load(settings, credentials, END - timedelta(days=6))

    account = synthetic.account("google_ads", credentials.customer_id)
    columns = dict(
        query(
            settings,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_google_ads' and table_name = 'campaign_daily'",
        )
    )
    assert {
        name: columns[name] for name in ("date", "segments_date", "metrics_cost_micros", "metrics_conversions")
    } == {
        "date": "DATE",
        "segments_date": "VARCHAR",
        "metrics_cost_micros": "VARCHAR",
        "metrics_conversions": "DOUBLE",
    }
    rows = query(settings, f"select distinct company_id, account_id, currency, account_timezone from {DAILY}")
    assert rows == [(f"co-{credentials.customer_id}", credentials.customer_id, account.currency, account.timezone)]
    assert query(settings, f"select count(*) from {DAILY} where date::varchar != segments_date") == [(0,)]
    # proto3 JSON leaves zero values out: a campaign-day without conversions has none, not a zero
    served = delivered(credentials.customer_id, END - timedelta(days=6), END)
    without = sum(1 for _, _, metrics in served if not metrics.conversions)
    assert query(settings, f"select count(*) from {DAILY} where metrics_conversions is null") == [(without,)]


def test_campaigns_hold_each_campaign_with_its_budget_in_micros(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    load(settings, credentials, END, END)

    expected = {
        campaign.id: (
            str(int(campaign.daily_budget * 1_000_000)) if campaign.daily_budget else None,
            str(int(campaign.lifetime_budget * 1_000_000)) if campaign.lifetime_budget else None,
            "DAILY" if campaign.daily_budget else "CUSTOM_PERIOD",
            campaign.objective,
        )
        for campaign in synthetic.campaigns("google_ads", credentials.customer_id)
    }
    rows = query(
        settings,
        f"select campaign_id, campaign_budget_amount_micros, campaign_budget_total_amount_micros, "
        f"campaign_budget_period, campaign_advertising_channel_type, campaign_status from {CAMPAIGNS}",
    )
    assert {row[0]: row[1:5] for row in rows} == expected
    assert {row[5] for row in rows} <= {"ENABLED", "PAUSED", "REMOVED"}


@pytest.mark.parametrize(
    "faults", [{"rate_limit": 2, "retry_after_seconds": 1}, {"server_error": 2}], ids=["throttled", "server_error"]
)
def test_retries_survive_throttling_and_server_errors(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials, faults: dict[str, int]
) -> None:
    small_pages(emulator, credentials.customer_id, **faults)
    load(settings, credentials)

    assert query(settings, f"select count(*) from {DAILY}") == [(len(delivered(credentials.customer_id, START, END)),)]
    assert requests_made(emulator, "google_ads", credentials.customer_id) == requests_for(credentials.customer_id) + 2


@pytest.mark.parametrize(
    ("faults", "kind", "reason"),
    [
        ({"rate_limit": 10, "retry_after_seconds": 0}, PlatformRateLimited, "RESOURCE_TEMPORARILY_EXHAUSTED"),
        ({"server_error": 10}, PlatformUnavailable, "INTERNAL_ERROR"),
    ],
    ids=["throttled", "server_error"],
)
def test_a_fault_that_outlasts_the_retries_fails_the_load_with_its_reason(
    emulator: httpx.Client,
    settings: Settings,
    credentials: GoogleAdsCredentials,
    faults: dict[str, int],
    kind: type[PlatformError],
    reason: str,
) -> None:
    emulator.put(f"/_emulator/faults/google_ads/{credentials.customer_id}", json=faults)

    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials, END, END)

    error = platform_error(failed.value)
    assert type(error) is kind and error.platform == "google_ads"
    assert error.message.startswith("Google Ads: ") and reason in error.message
    assert requests_made(emulator, "google_ads", credentials.customer_id) == settings.http_max_attempts


@pytest.mark.parametrize("refresh_token", ["expired-refresh-0001", "revoked-refresh-0001"])
def test_an_expired_refresh_token_fails_the_load_naming_google_ads_and_the_cause(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials, refresh_token: str
) -> None:
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, replaced(credentials, refresh_token=refresh_token), END, END)

    error = platform_error(failed.value)
    assert isinstance(error, PlatformAuthError)
    assert (
        error.message
        == "Google Ads: Google refused the credentials (invalid_grant: Token has been expired or revoked.)"
    )
    assert refresh_token not in "".join(traceback.format_exception(failed.value))


def test_an_access_token_revoked_mid_load_fails_it_as_an_auth_error(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    small_pages(emulator, credentials.customer_id, revoke_after=3)

    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials)

    error = platform_error(failed.value)
    assert isinstance(error, PlatformAuthError)
    assert error.message == "Google Ads: The OAuth access token is revoked. (OAUTH_TOKEN_REVOKED)"


def test_a_cut_off_answer_is_fetched_again_and_fails_the_load_as_unreadable_when_it_stays_cut(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    small_pages(emulator, credentials.customer_id, truncate=1)
    load(settings, credentials, END, END)  # cut once: fetched again
    small_pages(emulator, credentials.customer_id, truncate=50)

    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials, END, END)

    assert isinstance(platform_error(failed.value), PlatformResponseError)


def test_loading_a_range_again_replaces_it_and_a_narrower_pull_replaces_only_its_days(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    emulator.put("/_emulator/today", params={"today": END.isoformat()})
    emulator.put(f"/_emulator/faults/google_ads/{credentials.customer_id}", json={"late_attribution": True})
    load(settings, credentials)
    load(settings, credentials)  # the second metrics call: recent days with clicks gain one conversion each
    served = delivered(credentials.customer_id, START, END)
    assert query(settings, f"select count(*), count(distinct (campaign_id, date)) from {DAILY}") == [
        (len(served), len(served))
    ]

    narrow = END - timedelta(days=9)
    load(settings, credentials, narrow)  # the third call: two late conversions per recent day with clicks

    loaded = {
        (row[0], row[1]): row[2]
        for row in query(settings, f"select campaign_id, date, metrics_conversions from {DAILY}")
    }
    assert len(loaded) == len(served)
    for campaign, day, metrics in served:
        late = (2 if day >= narrow else 1) if metrics.clicks and END - day <= timedelta(days=28) else 0
        assert (loaded[(campaign.id, day)] or 0) == metrics.conversions + late


def test_no_secret_reaches_a_log_an_error_or_dlt_s_working_folder(
    emulator: httpx.Client, settings: Settings, customer_id: str, dlt_debug_logs: None, caplog: pytest.LogCaptureFixture
) -> None:
    sentinel = f"SENTINEL-{customer_id}"
    secrets = {name: f"{sentinel}-{name}" for name in ("developer_token", "client_secret", "refresh_token")}
    credentials = GoogleAdsCredentials(
        client_id="client.apps.googleusercontent.com", customer_id=customer_id, **secrets
    )
    access_token = f"ya29.{hashlib.sha256(secrets['refresh_token'].encode()).hexdigest()[:24]}"  # the emulator's
    assert google_ads.test_connection(credentials, settings).success
    small_pages(emulator, customer_id)
    pipeline = load(settings, credentials, END - timedelta(days=13))
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, replaced(credentials, refresh_token=f"expired-{sentinel}"), END - timedelta(days=13))

    assert any(r.name == "dlt" and "Making POST request" in r.getMessage() for r in caplog.records)
    assert any("pageToken" in r.getMessage() for r in caplog.records)  # next pages were followed and logged
    assert_no_secret_logged_or_raised(caplog.text, failed.value, sentinel, access_token)
    # dlt resolved no credential from its config providers: they were passed in, and only dlt's own runtime was
    resolved = {value.key for value in pipeline.last_trace.resolved_config_values}
    assert not resolved & set(GoogleAdsCredentials.model_fields)
    assert_no_secret_in_files(settings.data_dir, sentinel, access_token)
