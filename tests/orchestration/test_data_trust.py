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
