"""Every results route says how current each connected platform's data is, and which days may still change.

Hand-written rows and connection states: Meta spends 10 a day through March 20, 2024 and was loaded through
March 20; its restatement window is the 28 days a sync re-pulls, so it is settled through February 21 and every
later day is maturing. The expected dates are worked out here from the default lookbacks, not read from the code.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa

from tally.settings import Settings
from tests.api.conftest import TokenMaker
from tests.api.routes.hand_marts import KINDS, served_api, served_marts
from tests.fake_openai import FakeOpenAI
from tests.results_data import CampaignDay, Fixture, days
from warehouse.app_tables import connections

MARCH = {"period_type": "month", "period_end": "2024-03-31"}
LOADED = date(2024, 3, 20)
LOADED_AT = datetime(2024, 3, 21, 6, 30, tzinfo=UTC)
SHOP_LOADED = date(2024, 3, 18)
# The largest gap of Shopify's last reconciliation, as a load records it on the connection.
SHOP_GAP = {"metric_key": "revenue", "loaded": 900.0, "platform": 950.0, "gap": -50.0, "gap_pct": -5.2632}


def fixture_rows() -> Fixture:
    """``trust``: Meta 10 a day Feb 1 - Mar 20 (campaign m1), Google 5 a day Mar 1-10 (g1), Shopify 2 orders
    of 50 a day in March through the 18th."""
    rows = [
        CampaignDay("trust", "meta_ads", "m1", "Always on", day, Decimal(10), 100, 5, Decimal(1), Decimal(20), 80)
        for day in days(date(2024, 2, 1), LOADED)
    ]
    rows += [
        CampaignDay("trust", "google_ads", "g1", "Brand", day, Decimal(5), 50, 2, Decimal(0), Decimal(0), None)
        for day in days(date(2024, 3, 1), date(2024, 3, 10))
    ]
    sales = [("trust", day, 2, Decimal(50), "USD") for day in days(date(2024, 3, 1), SHOP_LOADED)]
    traffic = [("nobody", date(2024, 3, 1), "c", "google / cpc", 1, Decimal(0), Decimal(0), "USD")]
    return Fixture(rows, sales, traffic)


@pytest.fixture(scope="module", params=KINDS)
def trust_marts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with served_marts(request.param, fixture_rows(), tmp_path_factory) as settings:
        yield settings


def add_connection(engine: sa.Engine, platform: str, **state: object) -> None:
    """A connected connection of ``trust`` in the state loads (or failures) left it."""
    stamp = datetime.now(UTC)
    with engine.begin() as db:
        db.execute(
            connections.insert().values(
                id=f"trust-{platform}",
                company_id="trust",
                platform=platform,
                status="active",
                source="manual",
                scopes=[],
                created_at=stamp,
                updated_at=stamp,
                **state,
            )
        )


@pytest.fixture()
def trust(
    api_settings: Settings, app_engine: sa.Engine, trust_marts: dict, fake_model: FakeOpenAI, make_token: TokenMaker
) -> Iterator[httpx.Client]:
    """Meta loaded through March 20; Google Ads whose last load failed; Shopify through the 18th; GA4 never."""
    add_connection(app_engine, "meta_ads", loaded_through=LOADED, last_synced_at=LOADED_AT, reconciled=True)
    add_connection(
        app_engine,
        "google_ads",
        loaded_through=date(2024, 3, 10),
        last_synced_at=LOADED_AT - timedelta(days=10),
        last_sync_error="Google Ads: the refresh token was revoked",
    )
    add_connection(
        app_engine,
        "shopify",
        loaded_through=SHOP_LOADED,
        last_synced_at=LOADED_AT,
        reconciled=False,
        reconciliation_gap=SHOP_GAP,
    )
    add_connection(app_engine, "ga4")
    with served_api(api_settings, trust_marts, fake_model, make_token(companies=["trust"]), app_engine) as http:
        yield http


EXPECTED_FRESHNESS = [
    {
        "platform": "ga4",
        "loaded_through": None,
        "last_loaded_at": None,
        "settled_through": None,
        "status": "never",
        "error": None,
        "reconciled": None,
        "largest_gap": None,
    },
    {
        "platform": "google_ads",
        "loaded_through": "2024-03-10",
        "last_loaded_at": "2024-03-11T06:30:00Z",
        "settled_through": "2024-02-09",  # 30 days before March 10
        "status": "failed",
        "error": "Google Ads: the refresh token was revoked",
        "reconciled": None,
        "largest_gap": None,
    },
    {
        "platform": "meta_ads",
        "loaded_through": "2024-03-20",
        "last_loaded_at": "2024-03-21T06:30:00Z",
        "settled_through": "2024-02-21",  # 28 days before March 20
        "status": "succeeded",
        "error": None,
        "reconciled": True,
        "largest_gap": None,
    },
    {
        "platform": "shopify",
        "loaded_through": "2024-03-18",
        "last_loaded_at": "2024-03-21T06:30:00Z",
        "settled_through": "2024-03-11",  # 7 days before March 18
        "status": "succeeded",
        "error": None,
        "reconciled": False,
        "largest_gap": SHOP_GAP,
    },
]


def test_every_results_route_lists_each_connected_platforms_freshness(trust: httpx.Client) -> None:
    for route in ("results", "results/campaigns", "results/campaigns/daily"):
        response = trust.get(f"/api/clients/trust/{route}", params=MARCH)
        assert response.status_code == 200, response.text
        assert response.json()["freshness"] == EXPECTED_FRESHNESS, route
    only_meta = trust.get("/api/clients/trust/results/campaigns", params=MARCH | {"platform": "meta_ads"}).json()
    assert only_meta["freshness"] == [EXPECTED_FRESHNESS[2]]


def test_daily_points_inside_the_restatement_window_are_maturing(trust: httpx.Client) -> None:
    daily = trust.get("/api/clients/trust/results/campaigns/daily", params=MARCH).json()["daily"]
    # Meta is settled through Feb 21: every day of March is maturing, loaded or not yet.
    assert [point["maturing"] for point in daily["m1"]] == [True] * 31
    # Google Ads is settled through Feb 9 (30 days before its last load, March 10): all of March too.
    assert all(point["maturing"] for point in daily["g1"])
    february = trust.get(
        "/api/clients/trust/results/campaigns/daily", params={"period_type": "month", "period_end": "2024-02-29"}
    ).json()["daily"]
    maturing = {point["date"]: point["maturing"] for point in february["m1"]}
    assert [day for day, flag in maturing.items() if flag] == [f"2024-02-{n}" for n in range(22, 30)]
    assert maturing["2024-02-21"] is False and maturing["2024-02-01"] is False


def test_each_metric_counts_its_maturing_days(trust: httpx.Client) -> None:
    february = {
        metric["metric_key"]: metric
        for metric in trust.get(
            "/api/clients/trust/results", params={"period_type": "month", "period_end": "2024-02-29"}
        ).json()["metrics"]
    }
    # Ad metrics: the earliest settled day of the ad platforms is Google's Feb 9, so Feb 10-29 (20 days with
    # Meta data) are maturing; ROAS matures with spend.
    assert (february["spend"]["data_points"], february["spend"]["maturing_days"]) == (29, 20)
    assert february["roas"]["maturing_days"] == 20
    march = {
        metric["metric_key"]: metric
        for metric in trust.get("/api/clients/trust/results", params=MARCH).json()["metrics"]
    }
    assert (march["spend"]["data_points"], march["spend"]["maturing_days"]) == (20, 20)
    # Shopify is settled through March 11: of its 18 days of March, the 12th to the 18th are maturing.
    assert (march["revenue"]["data_points"], march["revenue"]["maturing_days"]) == (18, 7)
    assert march["orders"]["maturing_days"] == 7
