"""Loading Meta Ads through dlt into DuckDB, against the emulator over loopback HTTP."""

from __future__ import annotations

import traceback
from datetime import date, timedelta
from decimal import Decimal

import dlt
import httpx
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import meta_ads
from pipelines.emulator import synthetic
from tally.errors import PlatformAuthError, PlatformRateLimited, PlatformResponseError
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
from tests.pipelines.meta_ads.served import END, START, delivered

DAILY = "raw_meta_ads.campaign_daily"


def credentials(ad_account_id: str, token: str = "meta-token") -> meta_ads.MetaAdsCredentials:
    return meta_ads.MetaAdsCredentials(access_token=token, ad_account_id=f"act_{ad_account_id}")


def load(settings: Settings, creds: meta_ads.MetaAdsCredentials, start: date, end: date = END) -> dlt.Pipeline:
    return run_source("meta_ads", meta_ads.source, settings, creds, creds.ad_account_id, start, end)


def test_a_90_day_pull_loads_exactly_the_rows_the_insights_served(
    emulator: httpx.Client, settings: Settings, ad_account_id: str
) -> None:
    page_size = 7
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json={"page_size": page_size})
    load(settings, credentials(ad_account_id), START)

    served = delivered(ad_account_id, START, END)
    loaded = query(
        settings,
        f"select count(*), sum(spend::decimal(18, 2)), sum(coalesce(conversions, '0')::bigint), "
        f"sum(coalesce(conversion_value, '0')::decimal(18, 2)), count(distinct (campaign_id, date)) from {DAILY}",
    )
    assert loaded == [delivery_totals(served)]
    assert query(settings, f"select count(*) from {DAILY} where date::varchar <> date_start") == [(0,)]
    account = synthetic.account("meta_ads", ad_account_id)
    assert query(
        settings,
        f"select distinct company_id, account_id, currency, account_timezone, account_currency, conversion_action_type "
        f"from {DAILY}",
    ) == [(f"co-{ad_account_id}", ad_account_id, account.currency, account.timezone, account.currency, "purchase")]

    campaigns = synthetic.campaigns("meta_ads", ad_account_id)
    assert requests_made(emulator, "meta_ads", ad_account_id) == 1 + pages(len(served), page_size) + pages(
        len(campaigns), page_size
    )


def test_actions_stay_whole_as_json_and_are_null_when_meta_left_them_out(
    emulator: httpx.Client, settings: Settings, ad_account_id: str
) -> None:
    load(settings, credentials(ad_account_id), END - timedelta(days=29))
    rows = query(settings, f"select conversions, conversion_value, actions_json, action_values_json from {DAILY}")

    with_purchases = [row for row in rows if row[0] is not None]
    assert with_purchases and len(with_purchases) < len(rows)
    conversions, value, actions_json, values_json = with_purchases[0]
    assert '{"action_type":"omni_purchase","value":"' + conversions + '"}' in actions_json
    assert '{"action_type":"purchase","value":"' + value + '"}' in values_json
    assert all(row[1] is None and row[3] is None for row in rows if row[0] is None)


@pytest.mark.parametrize("action_type", ["offsite_conversion.fb_pixel_purchase", "omni_purchase"])
def test_any_purchase_alias_counts_each_purchase_once(
    emulator: httpx.Client, settings: Settings, ad_account_id: str, action_type: str
) -> None:
    chosen = settings.model_copy(update={"meta_ads_conversion_action_type": action_type})
    start = END - timedelta(days=13)
    load(chosen, credentials(ad_account_id), start)
    served = delivered(ad_account_id, start, END)
    assert query(
        chosen,
        f"select sum(conversions::bigint), sum(conversion_value::decimal(18, 2)), "
        f"list(distinct conversion_action_type) from {DAILY}",
    ) == [
        (
            sum(metrics.conversions for _, _, metrics in served),
            sum((metrics.conversion_value for _, _, metrics in served), Decimal(0)),
            [action_type],
        )
    ]


def test_an_action_type_without_values_fills_conversions_only(
    emulator: httpx.Client, settings: Settings, ad_account_id: str
) -> None:
    chosen = settings.model_copy(update={"meta_ads_conversion_action_type": "link_click"})
    load(chosen, credentials(ad_account_id), END - timedelta(days=13))
    rows = query(chosen, f"select conversions::bigint, clicks::bigint, conversion_value from {DAILY}")
    assert rows and all(value is None for _, _, value in rows)
    assert all(link_clicks is None or 0 < link_clicks <= clicks for link_clicks, clicks, _ in rows)
    assert sum(link_clicks or 0 for link_clicks, _, _ in rows) > 0


def test_campaigns_load_with_budgets_in_minor_units_and_their_status(
    emulator: httpx.Client, settings: Settings, ad_account_id: str
) -> None:
    load(settings, credentials(ad_account_id), END - timedelta(days=6))
    loaded = query(
        settings,
        "select campaign_id, name, objective, daily_budget, lifetime_budget, status, stop_time is null, currency "
        "from raw_meta_ads.campaigns order by campaign_id",
    )
    currency = synthetic.account("meta_ads", ad_account_id).currency

    def cents(amount: Decimal | None) -> str | None:
        return None if amount is None else str(int(amount * 100))

    assert loaded == [
        (
            c.id,
            c.name,
            c.objective,
            cents(c.daily_budget),
            cents(c.lifetime_budget),
            "ACTIVE" if c.active else "PAUSED",
            c.end is None,
            currency,
        )
        for c in synthetic.campaigns("meta_ads", ad_account_id)
    ]


@pytest.mark.parametrize("fault", [{"rate_limit": 2, "retry_after_seconds": 1}, {"server_error": 2}])
def test_a_load_survives_throttles_and_server_errors(
    emulator: httpx.Client, settings: Settings, ad_account_id: str, fault: dict[str, int]
) -> None:
    start = END - timedelta(days=29)
    load(settings, credentials(ad_account_id), start)
    clean = requests_made(emulator, "meta_ads", ad_account_id)
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json=fault)
    load(settings, credentials(ad_account_id), start)

    assert requests_made(emulator, "meta_ads", ad_account_id) == 2 * clean + 2
    assert query(settings, f"select count(*) from {DAILY}") == [(len(delivered(ad_account_id, start, END)),)]


def test_a_load_that_stays_throttled_says_so(emulator: httpx.Client, settings: Settings, ad_account_id: str) -> None:
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json={"rate_limit": 9, "retry_after_seconds": 0})
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(ad_account_id), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformRateLimited) and error.message.startswith("Meta Ads: rate limited after retries")
    assert "(code 80004, subcode 2446079)" in error.message
    assert requests_made(emulator, "meta_ads", ad_account_id) == settings.http_max_attempts


def test_an_expired_token_fails_the_load_naming_meta_and_the_cause(
    emulator: httpx.Client, settings: Settings, ad_account_id: str
) -> None:
    token = f"expired-meta-{ad_account_id}-secret"
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(ad_account_id, token), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformAuthError)
    assert error.message.startswith("Meta Ads: Error validating access token: Session has expired on ")
    assert error.message.endswith("(code 190, subcode 463)")
    assert token not in "".join(traceback.format_exception(failed.value))


def test_a_reload_leaves_no_duplicate_and_a_narrower_pull_replaces_only_its_days(
    emulator: httpx.Client, settings: Settings, ad_account_id: str
) -> None:
    start = END - timedelta(days=59)
    per_row = f"select campaign_id, date, conversions from {DAILY} order by date, campaign_id"
    load(settings, credentials(ad_account_id), start)
    first = query(settings, per_row)
    load(settings, credentials(ad_account_id), start)
    assert query(settings, per_row) == first
    assert len(first) == len({(campaign_id, day) for campaign_id, day, _ in first})

    # Recent days gain purchases: two insights reports (one per load) came before the re-pull.
    emulator.put("/_emulator/today", params={"today": (END + timedelta(days=1)).isoformat()})
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json={"late_attribution": True})
    recent = END - timedelta(days=9)
    load(settings, credentials(ad_account_id), recent)

    def purchases(day: date, metrics: synthetic.DayMetrics) -> str | None:
        count = metrics.conversions + (2 if day >= recent else 0)
        return str(count) if count else None

    expected = [
        (campaign.id, day, purchases(day, metrics))
        for campaign, day, metrics in sorted(delivered(ad_account_id, start, END), key=lambda d: (d[1], d[0].id))
    ]
    assert query(settings, per_row) == expected


def test_no_token_reaches_logs_errors_or_dlt_files(
    emulator: httpx.Client,
    settings: Settings,
    ad_account_id: str,
    caplog: pytest.LogCaptureFixture,
    dlt_debug_logs: None,
) -> None:
    sentinel = f"EAAB_SENTINEL_{ad_account_id}"
    creds = credentials(ad_account_id, sentinel)
    assert creds.secret_values() == [sentinel]
    assert meta_ads.test_connection(creds, settings).success
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json={"page_size": 50})
    load(settings, creds, END - timedelta(days=13))
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(ad_account_id, f"expired-{sentinel}"), END - timedelta(days=13))

    assert any(r.name == "dlt" and "Making GET request" in r.getMessage() for r in caplog.records)
    assert any("after=" in r.getMessage() for r in caplog.records)  # next pages were followed and logged
    assert_no_secret_logged_or_raised(caplog.text, failed.value, sentinel)
    assert_no_secret_in_files(settings.data_dir, sentinel)


def test_a_cut_off_answer_is_fetched_again_and_fails_the_load_as_unreadable_when_it_stays_cut(
    emulator: httpx.Client, settings: Settings, ad_account_id: str
) -> None:
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json={"truncate": 1})
    load(settings, credentials(ad_account_id), END - timedelta(days=6))  # cut once: fetched again
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json={"truncate": 50})
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(ad_account_id), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformResponseError)
    assert error.message == "Meta Ads: the API answered with invalid JSON"
