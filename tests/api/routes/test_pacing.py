"""Goals are paced against the days the period has data for: the last local day the metric's platforms loaded.

Loads stop at yesterday, so on the Nth day of a month a client exactly on pace has N-1 days of data: it reads
on_track, and the body says through which day (``data_through``). Every row and target here is hand-written so
that pace is exact: 100 of spend a day against 3,100 for March's 31 days.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tally.settings import Settings
from tests.api.conftest import TokenMaker
from tests.api.routes.hand_marts import KINDS, add_loaded_connection, served_api, served_marts
from tests.fake_openai import FakeOpenAI
from tests.results_data import CampaignDay, Fixture, days

DAYS_OF_MONTH = [1, 2, 3, 10, 15, 31]
TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)
MONTH_START = TODAY.replace(day=1)
DAYS_IN_THIS_MONTH = calendar.monthrange(TODAY.year, TODAY.month)[1]


def spend_rows(company: str, platform: str, start: date, end: date, spend: int) -> list[CampaignDay]:
    """One campaign spending ``spend`` every day from ``start`` to ``end``."""
    return [
        CampaignDay(company, platform, f"{platform}-1", "Always on", day, Decimal(spend), 1000, 10, Decimal(1),
                    Decimal(spend * 2), None)
        for day in days(start, end)
    ]  # fmt: skip


def pacing_data() -> Fixture:
    """``dayN``: on the Nth of March 2024, Meta spend of 100 a day from February 1 through the day before.
    ``mixed``: Meta through March 14, Shopify revenue of 50 a day through March 13.
    ``lagging``: Meta (100 a day) through March 14, Google Ads (50 a day) through March 12.
    ``current``: 100 a day from the first of the current month through yesterday."""
    rows: list[CampaignDay] = []
    for n in DAYS_OF_MONTH:
        rows += spend_rows(f"day{n}", "meta_ads", date(2024, 2, 1), date(2024, 3, n) - timedelta(days=1), 100)
    rows += spend_rows("mixed", "meta_ads", date(2024, 3, 1), date(2024, 3, 14), 100)
    rows += spend_rows("lagging", "meta_ads", date(2024, 3, 1), date(2024, 3, 14), 100)
    rows += spend_rows("lagging", "google_ads", date(2024, 3, 1), date(2024, 3, 12), 50)
    if TODAY.day > 1:
        rows += spend_rows("current", "meta_ads", MONTH_START, YESTERDAY, 100)
    sales = [("mixed", day, 2, Decimal(50), "USD") for day in days(date(2024, 3, 1), date(2024, 3, 13))]
    # The loader takes no empty table: one GA4 row of a company no test reads.
    traffic = [("nobody", date(2024, 3, 1), "c", "google / cpc", 1, Decimal(0), Decimal(0), "USD")]
    return Fixture(rows, sales, traffic)


COMPANIES = [*(f"day{n}" for n in DAYS_OF_MONTH), "mixed", "lagging", "current"]


@pytest.fixture(scope="module", params=KINDS)
def pacing_marts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with served_marts(request.param, pacing_data(), tmp_path_factory) as settings:
        yield settings


@pytest.fixture()
def pacing(
    api_settings: Settings,
    app_engine: sa.Engine,
    pacing_marts: dict,
    fake_model: FakeOpenAI,
    make_token: TokenMaker,
) -> Iterator[httpx.Client]:
    """The API over the pacing marts (and the fake model), for every company of them."""
    with served_api(api_settings, pacing_marts, fake_model, make_token(companies=COMPANIES), app_engine) as http:
        yield http


def set_goals(http: httpx.Client, company: str, **targets: float) -> None:
    goals = [{"metric_key": key, "period_type": "month", "target": target} for key, target in targets.items()]
    assert http.put(f"/api/clients/{company}/goals", json={"goals": goals}).status_code == 200


def results(http: httpx.Client, company: str, period_end: str | None) -> dict[str, Any]:
    params = {"period_type": "month"} | ({"period_end": period_end} if period_end else {})
    response = http.get(f"/api/clients/{company}/results", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by_key(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {metric["metric_key"]: metric for metric in body["metrics"]}


@pytest.mark.parametrize("n", DAYS_OF_MONTH)
def test_a_client_on_pace_is_on_track_every_day_of_the_month(
    pacing: httpx.Client, app_engine: sa.Engine, n: int
) -> None:
    company, day = f"day{n}", date(2024, 3, n)
    loaded = day - timedelta(days=1)
    add_loaded_connection(app_engine, company, "meta_ads", loaded)
    set_goals(pacing, company, spend=3100)

    body = results(pacing, company, day.isoformat())

    if n == 1:  # nothing of March is loaded yet: nothing to pace
        assert "spend" not in by_key(body)
    else:
        spend = by_key(body)["spend"]
        assert (spend["value"], spend["target"], spend["tracking_status"]) == (100 * (n - 1), 3100, "on_track")
        assert spend["data_through"] == loaded.isoformat()
    assert body["data_through"] == loaded.isoformat()


def test_the_default_period_ending_today_paces_against_the_days_loaded(
    pacing: httpx.Client, app_engine: sa.Engine
) -> None:
    add_loaded_connection(app_engine, "current", "meta_ads", YESTERDAY)
    set_goals(pacing, "current", spend=100 * DAYS_IN_THIS_MONTH)

    body = results(pacing, "current", None)

    assert body["period"]["end"] == TODAY.isoformat() and body["data_through"] == YESTERDAY.isoformat()
    if TODAY.day == 1:
        assert "spend" not in by_key(body)
        return
    spend = by_key(body)["spend"]
    assert spend["value"] == pytest.approx(100 * (TODAY.day - 1)) and spend["tracking_status"] == "on_track"


def test_each_metric_is_paced_to_the_day_its_own_platforms_loaded(pacing: httpx.Client, app_engine: sa.Engine) -> None:
    add_loaded_connection(app_engine, "mixed", "meta_ads", date(2024, 3, 14))
    add_loaded_connection(app_engine, "mixed", "shopify", date(2024, 3, 13))
    # On pace: spend 1,400 over 14 days of a 3,100 month; revenue 650 over 13 days of a 1,550 month.
    set_goals(pacing, "mixed", spend=3100, revenue=1550)

    body = results(pacing, "mixed", "2024-03-15")

    assert body["data_through"] == "2024-03-13"  # every figure of the body is complete through the earlier day
    metrics = by_key(body)
    assert (metrics["spend"]["value"], metrics["spend"]["data_through"]) == (1400, "2024-03-14")
    assert (metrics["revenue"]["value"], metrics["revenue"]["data_through"]) == (650, "2024-03-13")
    assert metrics["spend"]["tracking_status"] == "on_track"
    assert metrics["revenue"]["tracking_status"] == "on_track"


def test_a_platform_loaded_less_far_holds_its_metrics_back(pacing: httpx.Client, app_engine: sa.Engine) -> None:
    add_loaded_connection(app_engine, "lagging", "meta_ads", date(2024, 3, 14))
    add_loaded_connection(app_engine, "lagging", "google_ads", date(2024, 3, 12))
    # A disconnected platform loads no more: it holds nothing back.
    add_loaded_connection(app_engine, "lagging", "tiktok_ads", date(2024, 3, 1), status="disconnected")
    # Spend is 14 x 100 + 12 x 50 = 2,000. Paced to 12 days of 5,000 over 31 (1,935.48) that is 103%: on track.
    # Paced to 14 days (2,258.06) it would be 89% (off track), to 15 days 83%.
    set_goals(pacing, "lagging", spend=5000)

    body = results(pacing, "lagging", "2024-03-15")

    spend = by_key(body)["spend"]
    assert body["data_through"] == "2024-03-12" and spend["data_through"] == "2024-03-12"
    assert (spend["value"], spend["tracking_status"]) == (2000, "on_track")


def test_the_assistant_paces_goals_the_same_way(
    pacing: httpx.Client, app_engine: sa.Engine, fake_model: FakeOpenAI
) -> None:
    add_loaded_connection(app_engine, "day15", "meta_ads", date(2024, 3, 14))
    set_goals(pacing, "day15", spend=3100)
    period = {"period_type": "month", "period_end": "2024-03-15"}
    fake_model.call_tools(("goal_status", period), ("period_metrics", period))
    fake_model.answer("Spend is on track.")

    response = pacing.post("/api/clients/day15/results/ask", json={"question": "Is spend on track?"})

    assert response.status_code == 200, response.text
    goals, metrics = fake_model.requests[1].tool_results()
    assert goals["goals"] == [
        {"metric_key": "spend", "target": 3100, "value": 1400, "currency": "USD", "tracking_status": "on_track"}
    ]
    assert goals["data_through"] == metrics["data_through"] == "2024-03-14"
    spend = next(metric for metric in metrics["metrics"] if metric["metric_key"] == "spend")
    assert (spend["tracking_status"], spend["data_through"]) == ("on_track", "2024-03-14")
