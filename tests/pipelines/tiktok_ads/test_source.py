"""Loading TikTok Ads through dlt into DuckDB, against the emulator over loopback HTTP."""

from __future__ import annotations

import traceback
from datetime import date, timedelta

import dlt
import httpx
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import tiktok_ads
from pipelines.emulator import synthetic
from pipelines.tiktok_ads.client import report_windows
from tally.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformRateLimited,
    PlatformResponseError,
    PlatformUnavailable,
)
from tally.settings import Settings
from tests.pipelines.loading import (
    assert_no_secret_in_files,
    assert_no_secret_logged_or_raised,
    delivery_totals,
    pages,
    platform_error,
    query,
    requests_made,
    run_source,
)
from tests.pipelines.tiktok_ads.served import END, START, delivered

DAILY = "raw_tiktok_ads.campaign_daily"


def credentials(advertiser_id: str, token: str = "tt-token") -> tiktok_ads.TikTokAdsCredentials:
    return tiktok_ads.TikTokAdsCredentials(access_token=token, advertiser_id=advertiser_id)


def load(settings: Settings, creds: tiktok_ads.TikTokAdsCredentials, start: date, end: date = END) -> dlt.Pipeline:
    return run_source("tiktok_ads", tiktok_ads.source, settings, creds, creds.advertiser_id, start, end)


def test_a_90_day_pull_loads_exactly_the_rows_the_report_served(
    emulator: httpx.Client, settings: Settings, advertiser_id: str
) -> None:
    page_size = 7
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json={"page_size": page_size})
    load(settings, credentials(advertiser_id), START)

    served = delivered(advertiser_id, START, END)
    loaded = query(
        settings,
        f"select count(*), sum(spend::decimal(18, 2)), sum(conversions::bigint), "
        f"sum(conversion_value::decimal(18, 2)), count(distinct (campaign_id, date)) from {DAILY}",
    )
    assert loaded == [delivery_totals(served)]
    assert query(settings, f"select count(*) from {DAILY} where date::varchar || ' 00:00:00' <> stat_time_day") == [
        (0,)
    ]
    account = synthetic.account("tiktok_ads", advertiser_id)
    assert query(
        settings, f"select distinct company_id, account_id, currency, account_timezone, conversion_metric from {DAILY}"
    ) == [(f"co-{advertiser_id}", advertiser_id, account.currency, account.timezone, "complete_payment")]

    windows = [len(delivered(advertiser_id, first, last)) for first, last in report_windows(START, END)]
    campaigns = synthetic.campaigns("tiktok_ads", advertiser_id)
    assert len(windows) == 3
    assert requests_made(emulator, "tiktok_ads", advertiser_id) == 1 + sum(
        pages(n, page_size) for n in windows
    ) + pages(len(campaigns), page_size)


def test_campaigns_load_with_budgets_in_major_units_and_their_status(
    emulator: httpx.Client, settings: Settings, advertiser_id: str
) -> None:
    load(settings, credentials(advertiser_id), END - timedelta(days=6))
    loaded = query(
        settings,
        "select campaign_id, campaign_name, objective_type, budget, budget_mode, operation_status, currency "
        "from raw_tiktok_ads.campaigns order by campaign_id",
    )
    currency = synthetic.account("tiktok_ads", advertiser_id).currency
    assert loaded == [
        (
            c.id,
            c.name,
            c.objective,
            float(c.daily_budget or c.lifetime_budget or 0),
            "BUDGET_MODE_DAY" if c.daily_budget else "BUDGET_MODE_TOTAL",
            "ENABLE" if c.active else "DISABLE",
            currency,
        )
        for c in synthetic.campaigns("tiktok_ads", advertiser_id)
    ]


def test_the_configured_conversion_metric_fills_conversions(
    emulator: httpx.Client, settings: Settings, advertiser_id: str
) -> None:
    optimisation = settings.model_copy(update={"tiktok_ads_conversion_metric": "conversion"})
    load(optimisation, credentials(advertiser_id), END - timedelta(days=13))
    rows = query(optimisation, f"select conversions, conversion, complete_payment, conversion_metric from {DAILY}")
    assert rows and all(row[0] == row[1] and row[3] == "conversion" for row in rows)
    assert sum(int(row[1]) for row in rows) > sum(int(row[2]) for row in rows)


@pytest.mark.parametrize("fault", [{"rate_limit": 2, "retry_after_seconds": 1}, {"server_error": 2}])
def test_a_load_survives_throttles_and_server_errors(
    emulator: httpx.Client, settings: Settings, advertiser_id: str, fault: dict[str, int]
) -> None:
    start = END - timedelta(days=29)
    load(settings, credentials(advertiser_id), start)
    clean = requests_made(emulator, "tiktok_ads", advertiser_id)
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json=fault)
    load(settings, credentials(advertiser_id), start)

    assert requests_made(emulator, "tiktok_ads", advertiser_id) == 2 * clean + 2
    assert query(settings, f"select count(*) from {DAILY}") == [(len(delivered(advertiser_id, start, END)),)]


@pytest.mark.parametrize(
    ("fault", "kind"), [({"rate_limit": 9}, PlatformRateLimited), ({"server_error": 9}, PlatformUnavailable)]
)
def test_a_load_that_runs_out_of_retries_says_why(
    emulator: httpx.Client, settings: Settings, advertiser_id: str, fault: dict[str, int], kind: type[PlatformError]
) -> None:
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json=fault)
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(advertiser_id), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, kind) and error.message.startswith("TikTok Ads: ")
    assert requests_made(emulator, "tiktok_ads", advertiser_id) == settings.http_max_attempts


def test_an_expired_token_fails_the_load_naming_tiktok_and_the_cause(
    emulator: httpx.Client, settings: Settings, advertiser_id: str
) -> None:
    token = f"expired-tt-{advertiser_id}-secret"
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(advertiser_id, token), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformAuthError)
    assert error.message == "TikTok Ads: Access token is incorrect or has been revoked. (code 40105)"
    assert token not in "".join(traceback.format_exception(failed.value))


def test_a_reload_leaves_no_duplicate_and_a_narrower_pull_replaces_only_its_days(
    emulator: httpx.Client, settings: Settings, advertiser_id: str
) -> None:
    start = END - timedelta(days=59)
    per_row = f"select campaign_id, date, complete_payment from {DAILY} order by date, campaign_id"
    load(settings, credentials(advertiser_id), start)
    first = query(settings, per_row)
    load(settings, credentials(advertiser_id), start)
    assert query(settings, per_row) == first
    assert len(first) == len({(campaign_id, day) for campaign_id, day, _ in first})

    # Recent days gain purchases: four report requests (two 30-day windows, twice) came before the re-pull.
    emulator.put("/_emulator/today", params={"today": (END + timedelta(days=1)).isoformat()})
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json={"late_attribution": True})
    recent = END - timedelta(days=9)
    load(settings, credentials(advertiser_id), recent)

    expected = [
        (campaign.id, day, str(metrics.conversions + (4 if day >= recent else 0)))
        for campaign, day, metrics in sorted(delivered(advertiser_id, start, END), key=lambda d: (d[1], d[0].id))
    ]
    assert query(settings, per_row) == expected


def test_no_token_reaches_logs_errors_or_dlt_files(
    emulator: httpx.Client,
    settings: Settings,
    advertiser_id: str,
    caplog: pytest.LogCaptureFixture,
    dlt_debug_logs: None,
) -> None:
    sentinel = f"tt_SENTINEL_{advertiser_id}"
    creds = credentials(advertiser_id, sentinel)
    assert creds.secret_values() == [sentinel]
    assert tiktok_ads.test_connection(creds, settings).success
    load(settings, creds, END - timedelta(days=13))
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(advertiser_id, f"expired-{sentinel}"), END - timedelta(days=13))

    assert any(r.name == "dlt" and "Making GET request" in r.getMessage() for r in caplog.records)
    assert_no_secret_logged_or_raised(caplog.text, failed.value, sentinel)
    assert_no_secret_in_files(settings.data_dir, sentinel)


def test_a_cut_off_answer_is_fetched_again_and_fails_the_load_as_unreadable_when_it_stays_cut(
    emulator: httpx.Client, settings: Settings, advertiser_id: str
) -> None:
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json={"truncate": 1})
    load(settings, credentials(advertiser_id), END - timedelta(days=6))  # cut once: fetched again
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json={"truncate": 50})
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(advertiser_id), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformResponseError)
    assert error.message == "TikTok Ads: the API answered with invalid JSON"
