"""What an account manager sees over HTTP after real loads: freshness per platform, maturing days, and the
revision log of a day the platform restated between two syncs.

The loads are the real client_refresh_job runs (in-process) into a real DuckDB warehouse from the emulator; the
API reads what they published. Expected numbers are read from the emulator over HTTP and added up here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import jwt
import pytest
from pydantic import SecretStr

from api.main import create_app
from orchestration.resources import TallyResource
from tally.background_server import serve_in_thread
from tests.api.conftest import JWT_SECRET
from tests.orchestration.conftest import Connect, run_pending
from tests.pipelines.test_restatement import meta_rows
from warehouse import run_requests as requests_store


def yesterday_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def request(tally: TallyResource, kind: str, platforms: list[str], days: int | None = None) -> None:
    with tally.app_engine().begin() as db:
        requests_store.create_request(db, "acme", kind, platforms, "test", days=days)


@pytest.fixture()
def api(tally: TallyResource) -> Iterator[httpx.Client]:
    """The API over the runs' app database and published marts, with a token for acme."""
    settings = tally.settings.model_copy(update={"jwt_secret": SecretStr(JWT_SECRET)})
    claims = {"sub": "am", "permissions": ["clients:view"], "companies": ["acme"], "exp": 4_000_000_000}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}
    with serve_in_thread(create_app(settings)) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        yield http


def month_through(day: date) -> dict[str, str]:
    return {"period_type": "month", "period_end": day.isoformat()}


def metric(body: dict[str, Any], key: str) -> dict[str, Any]:
    return next(m for m in body["metrics"] if m["metric_key"] == key)


def test_backfill_then_restated_day_shows_freshness_maturing_days_and_the_revision(
    instance: dg.DagsterInstance,
    tally: TallyResource,
    connect: Connect,
    emulator: httpx.Client,
    api: httpx.Client,
) -> None:
    meta, google = connect("acme", "meta_ads"), connect("acme", "google_ads")
    request(tally, "backfill", ["meta_ads", "google_ads"], days=30)
    assert run_pending(instance, tally) == [True]

    meta_end, google_end = yesterday_in(meta["timezone"]), yesterday_in(google["timezone"])
    body = api.get("/api/clients/acme/results/campaigns/daily", params=month_through(meta_end)).json()
    freshness = {entry["platform"]: entry for entry in body["freshness"]}
    assert sorted(freshness) == ["google_ads", "meta_ads"]
    assert freshness["meta_ads"]["loaded_through"] == meta_end.isoformat()
    assert freshness["google_ads"]["loaded_through"] == google_end.isoformat()
    assert freshness["meta_ads"]["settled_through"] == (meta_end - timedelta(days=28)).isoformat()
    assert freshness["google_ads"]["settled_through"] == (google_end - timedelta(days=30)).isoformat()
    assert {entry["status"] for entry in freshness.values()} == {"succeeded"}

    # Meta's last 28 loaded days are maturing, older ones are not; a whole quarter shows both sides.
    quarter = {"period_type": "quarter", "period_end": meta_end.isoformat()}
    daily = api.get("/api/clients/acme/results/campaigns/daily", params=quarter | {"platform": "meta_ads"}).json()
    points = [point for series in daily["daily"].values() for point in series]
    settled = meta_end - timedelta(days=28)
    assert points and {p["maturing"] for p in points if date.fromisoformat(p["date"]) > settled} == {True}
    older = [p for p in points if date.fromisoformat(p["date"]) <= settled]
    if older:  # a quarter that started less than 28 days ago has no settled Meta day yet
        assert {p["maturing"] for p in older} == {False}

    # Meta restates a campaign's day inside its window: more spend and three more purchases.
    day = meta_end - timedelta(days=5)
    served = meta_rows(emulator, meta["account_id"], day)
    campaign_id = sorted(served)[0][0]
    old_spend, old_purchases = served[(campaign_id, day)]
    new_spend, new_purchases = old_spend + Decimal("250.00"), old_purchases + 3
    before = api.get("/api/clients/acme/results", params=month_through(day)).json()
    restated = {"campaign_id": campaign_id, "date": day.isoformat(), "spend": str(new_spend)}
    restated["conversions"] = str(new_purchases)
    emulator.put(f"/_emulator/restatements/meta_ads/{meta['account_id']}", json=restated).raise_for_status()
    assert api.get("/api/clients/acme/results/revisions").json()["revisions"] == []

    request(tally, "sync", ["meta_ads"])
    assert run_pending(instance, tally) == [True]

    response = api.get("/api/clients/acme/results/revisions", params={"since": meta_end.isoformat()})
    assert response.status_code == 200, response.text
    log = response.json()
    changes = {(r["campaign_id"], r["date"], r["metric_key"]): r for r in log["revisions"]}
    assert set(changes) == {(campaign_id, day.isoformat(), "spend"), (campaign_id, day.isoformat(), "conversions")}
    spend = changes[(campaign_id, day.isoformat(), "spend")]
    assert (spend["previous_value"], spend["new_value"]) == (float(old_spend), float(new_spend))
    assert spend["change"] == pytest.approx(250.0) and spend["currency"] == meta["currency"]
    conversions = changes[(campaign_id, day.isoformat(), "conversions")]
    assert (conversions["previous_value"], conversions["new_value"]) == (float(old_purchases), float(new_purchases))
    totals = {t["metric_key"]: (t["change"], t["revisions"]) for t in log["totals"]}
    assert totals == {"conversions": (3.0, 1), "spend": (pytest.approx(250.0), 1)}
    after = api.get("/api/clients/acme/results", params=month_through(day)).json()
    assert metric(after, "spend")["value"] == pytest.approx(metric(before, "spend")["value"] + 250.0)
    assert metric(after, "conversions")["value"] == pytest.approx(metric(before, "conversions")["value"] + 3)

    request(tally, "sync", ["meta_ads"])
    assert run_pending(instance, tally) == [True]
    again = api.get("/api/clients/acme/results/revisions").json()
    assert again["revisions"] == log["revisions"], "an identical re-pull revises nothing"


def test_revisions_refuse_a_bad_date_or_platform(api: httpx.Client) -> None:
    for params, message in (
        ({"since": "2026-13-01"}, "since must be a date as YYYY-MM-DD"),
        ({"since": "yesterday"}, "since must be a date as YYYY-MM-DD"),
        ({"platform": "myspace"}, "platform must be one of"),
    ):
        response = api.get("/api/clients/acme/results/revisions", params=params)
        assert response.status_code == 400, params
        assert message in response.json()["detail"]
    assert api.get("/api/clients/globex/results/revisions").status_code == 404
    assert httpx.get(f"{api.base_url}/api/clients/acme/results/revisions").status_code == 401


def latest_check(instance: dg.DagsterInstance, platform: str, table: str) -> dg.AssetCheckEvaluation:
    """The latest evaluation of a raw asset's reconciliation check, read from the instance's event log."""
    key = dg.AssetCheckKey(dg.AssetKey(["raw", platform, table]), "matches_platform_totals")
    [record] = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    assert record.event is not None and record.event.dagster_event is not None
    return record.event.dagster_event.asset_check_evaluation_data


def test_a_platform_disagreeing_with_its_own_campaign_rows_fails_the_check_and_the_load_stands(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client, api: httpx.Client
) -> None:
    meta = connect("acme", "meta_ads")
    connect("acme", "google_ads")
    # Meta's account level reports 2% more than its campaign rows add up to; Google's agrees with itself.
    emulator.put(
        f"/_emulator/faults/meta_ads/{meta['account_id']}", json={"account_level_gap_pct": 2}
    ).raise_for_status()
    request(tally, "backfill", ["meta_ads", "google_ads"], days=30)

    assert run_pending(instance, tally) == [True], "a reconciliation gap does not fail the load"

    end = yesterday_in(meta["timezone"])
    served = {
        key: value
        for day in range(30)
        for key, value in meta_rows(emulator, meta["account_id"], end - timedelta(days=day)).items()
    }
    loaded_spend = sum(spend for spend, _ in served.values())
    meta_check = latest_check(instance, "meta_ads", "campaign_daily")
    assert meta_check.passed is False and meta_check.severity == dg.AssetCheckSeverity.WARN
    assert meta_check.metadata["gap_spend"].value == pytest.approx(
        float(loaded_spend - loaded_spend * Decimal("1.02")), abs=0.01
    )
    assert meta_check.metadata["gap_pct_spend"].value == pytest.approx(-100 * 0.02 / 1.02, abs=0.01)
    google_check = latest_check(instance, "google_ads", "campaign_daily")
    assert google_check.passed is True, google_check.description

    body = api.get("/api/clients/acme/results", params=month_through(end)).json()
    freshness = {entry["platform"]: entry for entry in body["freshness"]}
    assert freshness["meta_ads"]["status"] == "succeeded" and freshness["meta_ads"]["reconciled"] is False
    assert freshness["meta_ads"]["largest_gap"]["gap_pct"] == pytest.approx(-100 * 0.02 / 1.02, abs=0.05)
    assert freshness["google_ads"]["reconciled"] is True


def test_every_platforms_load_reconciles_with_its_own_account_totals(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, api: httpx.Client
) -> None:
    platforms = {"meta_ads": "campaign_daily", "google_ads": "campaign_daily", "tiktok_ads": "campaign_daily",
                 "shopify": "daily_sales", "ga4": "traffic_daily"}  # fmt: skip
    for platform in platforms:
        connect("acme", platform)
    request(tally, "backfill", list(platforms), days=30)

    assert run_pending(instance, tally) == [True]

    for platform, table in platforms.items():
        check = latest_check(instance, platform, table)
        assert check.passed is True, (platform, check.description, check.metadata)
        assert check.metadata["company_id"].value == "acme"
    freshness = api.get("/api/clients/acme/results").json()["freshness"]
    assert {entry["platform"]: entry["reconciled"] for entry in freshness} == dict.fromkeys(platforms, True)
