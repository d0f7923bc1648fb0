"""The results routes over hand-made marts, on the DuckDB serving layer and on PostgreSQL.

Every number is checked against arithmetic done here on the fixture rows (``tests/results_data.py``), not
against the SQL: sums over the period's days, ratios from the sums, deltas against the prior period.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from tests.results_data import DATA, CampaignDay, days

MARCH = {"period_type": "month", "period_end": "2024-03-31"}
MARCH_DAYS = (date(2024, 3, 1), date(2024, 3, 31))
FEBRUARY_DAYS = (date(2024, 2, 1), date(2024, 2, 29))
ADDITIVE = ["spend", "impressions", "clicks", "conversions", "conversion_value", "reach"]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """Division that gives None on a zero or missing denominator, as the routes do."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def delta(value: float | None, prior: float | None) -> float | None:
    """Change in percent, None when there is nothing to compare with."""
    return None if value is None or not prior else (value - prior) / prior * 100


def in_window(day: date, window: tuple[date, date]) -> bool:
    return window[0] <= day <= window[1]


def campaign_rows(company: str, window: tuple[date, date], platform: str | None = None) -> list[CampaignDay]:
    return [
        row
        for row in DATA.campaign_days
        if row.company_id == company and in_window(row.date, window) and platform in (None, row.platform)
    ]


def additive_series(company: str, window: tuple[date, date]) -> dict[str, dict[date, float]]:
    """Each additive metric's total per day with data, from the raw fixture rows."""
    series: dict[str, dict[date, float]] = {}
    for row in campaign_rows(company, window):
        for key in ADDITIVE:
            if getattr(row, key) is not None:
                series.setdefault(key, {}).setdefault(row.date, 0.0)
                series[key][row.date] += float(getattr(row, key))
    for company_id, day, orders, revenue, _currency in DATA.sales:
        if company_id == company and in_window(day, window):
            series.setdefault("orders", {})[day] = float(orders)
            series.setdefault("revenue", {})[day] = float(revenue)
    for company_id, day, _c, _s, sessions, key_events, _r, _cur in DATA.traffic:
        if company_id == company and in_window(day, window):
            series.setdefault("sessions", {})[day] = float(sessions)
            series.setdefault("key_events", {})[day] = float(key_events)
    return series


def expected_metrics(company: str, window: tuple[date, date], prior: tuple[date, date]) -> dict[str, dict[str, Any]]:
    """Every metric entry GET /results should show, computed from the fixture rows."""
    now, before = additive_series(company, window), additive_series(company, prior)
    totals = {key: sum(values.values()) for key, values in now.items()}
    prior_totals = {key: sum(values.values()) for key, values in before.items()}
    points = {key: len(values) for key, values in now.items()}
    metrics = {
        key: {"value": totals[key], "avg_value": totals[key] / points[key], "data_points": points[key],
              "prior_value": prior_totals.get(key)}
        for key in now
    }  # fmt: skip
    derived = {
        "roas": ("conversion_value", "spend", 1),
        "cpa": ("spend", "conversions", 1),
        "cpm": ("spend", "impressions", 1000),
        "cpc": ("spend", "clicks", 1),
        "ctr": ("clicks", "impressions", 100),
    }
    for key, (numerator, denominator, scale) in derived.items():
        if numerator in now and denominator in now:
            value = ratio(totals[numerator], totals[denominator])
            prior_value = ratio(prior_totals.get(numerator), prior_totals.get(denominator))
            metrics[key] = {
                "value": None if value is None else value * scale,
                "avg_value": None if value is None else value * scale,
                "data_points": points[denominator],
                "prior_value": None if prior_value is None else prior_value * scale,
            }
    currencies = {"spend": "USD", "conversion_value": "USD", "revenue": "USD", "cpa": "USD", "cpm": "USD", "cpc": "USD"}
    for key, metric in metrics.items():
        metric |= {
            "metric_key": key,
            "currency": currencies.get(key),
            "delta_pct": delta(metric["value"], metric["prior_value"]),
            "target": None,
            "tracking_status": None,
            "data_through": None,  # no connection of these companies has recorded a load
            "maturing_days": 0,  # nor is any of their days inside a loaded platform's restatement window
        }
    return metrics


def approx(expected: dict[str, Any]) -> dict[str, Any]:
    return {key: pytest.approx(value) if isinstance(value, float) else value for key, value in expected.items()}


def test_results_for_a_month_match_sums_of_the_rows(results: httpx.Client) -> None:
    response = results.get("/api/clients/acme/results", params=MARCH)
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"type": "month", "start": "2024-03-01", "end": "2024-03-31"}
    assert body["prior_period"] == {"type": "month", "start": "2024-02-01", "end": "2024-02-29"}
    assert body["insight"] is None and body["connected_platforms"] == [] and body["warnings"] == []
    assert body["data_through"] is None
    expected = expected_metrics("acme", MARCH_DAYS, FEBRUARY_DAYS)
    assert [m["metric_key"] for m in body["metrics"]] == [
        "spend", "impressions", "clicks", "conversions", "conversion_value", "reach",
        "roas", "cpa", "cpm", "cpc", "ctr", "revenue", "orders", "sessions", "key_events",
    ]  # fmt: skip
    for metric in body["metrics"]:
        assert set(metric) == set(expected[metric["metric_key"]])
        assert metric == approx(expected[metric["metric_key"]]), metric["metric_key"]
    sessions = next(m for m in body["metrics"] if m["metric_key"] == "sessions")
    assert sessions["prior_value"] is None and sessions["delta_pct"] is None


@pytest.mark.parametrize(
    ("period_type", "period_end", "start", "prior_start", "prior_end"),
    [
        ("month", "2024-03-31", "2024-03-01", "2024-02-01", "2024-02-29"),  # leap year: clipped to Feb 29
        ("month", "2023-03-31", "2023-03-01", "2023-02-01", "2023-02-28"),
        ("month", "2024-03-15", "2024-03-01", "2024-02-01", "2024-02-15"),
        ("week", "2025-01-01", "2024-12-30", "2024-12-23", "2024-12-25"),  # ISO week across the new year
        ("week", "2021-01-03", "2020-12-28", "2020-12-21", "2020-12-27"),  # ISO week 53 ending on a Sunday
        ("quarter", "2024-05-31", "2024-04-01", "2024-01-01", "2024-03-01"),
        ("quarter", "2024-06-30", "2024-04-01", "2024-01-01", "2024-03-31"),
        ("year", "2024-12-31", "2024-01-01", "2023-01-01", "2023-12-31"),  # 366 days clipped to 365
        ("year", "2025-03-01", "2025-01-01", "2024-01-01", "2024-02-29"),  # the same 60 days
    ],
)
def test_periods_and_prior_periods(
    results: httpx.Client, period_type: str, period_end: str, start: str, prior_start: str, prior_end: str
) -> None:
    params = {"period_type": period_type, "period_end": period_end}
    body = results.get("/api/clients/acme/results", params=params).json()
    assert body["period"] == {"type": period_type, "start": start, "end": period_end}
    assert body["prior_period"] == {"type": period_type, "start": prior_start, "end": prior_end}
    window = (date.fromisoformat(start), date.fromisoformat(period_end))
    prior = (date.fromisoformat(prior_start), date.fromisoformat(prior_end))
    expected = expected_metrics("acme", window, prior)
    assert {m["metric_key"]: m for m in body["metrics"]} == {key: approx(value) for key, value in expected.items()}


def test_an_empty_period_and_a_company_without_data_answer_200_with_nothing(results: httpx.Client) -> None:
    for company, params in [("acme", {"period_end": "2023-06-30"}), ("initech", MARCH)]:
        body = results.get(f"/api/clients/{company}/results", params=params).json()
        assert body["metrics"] == []
        campaigns = results.get(f"/api/clients/{company}/results/campaigns", params=params)
        assert campaigns.status_code == 200
        assert campaigns.json()["campaigns"] == []
        assert campaigns.json()["totals"] == {
            "spend": 0, "impressions": 0, "clicks": 0, "conversions": 0, "conversion_value": 0, "reach": None,
            "frequency": None, "cpm": None, "cpc": None, "ctr": None, "roas": None, "cpa": None, "currency": None,
            "spend_delta_pct": None,
        }  # fmt: skip
        daily = results.get(f"/api/clients/{company}/results/campaigns/daily", params=params)
        assert daily.status_code == 200 and daily.json() == {"daily": {}, "freshness": []}


def expected_campaign(rows: list[CampaignDay], prior_rows: list[CampaignDay]) -> dict[str, Any]:
    """A campaign's (or the totals') figures from its rows in the period and the prior period."""
    sums = {key: float(sum(getattr(row, key) for row in rows)) for key in ADDITIVE if key != "reach"}
    reach_rows = [row for row in rows if row.reach is not None]
    reach = float(sum(row.reach for row in reach_rows)) if reach_rows else None  # type: ignore[misc]
    reach_impressions = float(sum(row.impressions for row in reach_rows))
    prior_spend = float(sum(row.spend for row in prior_rows)) if prior_rows else None
    return sums | {
        "reach": reach,
        "frequency": ratio(reach_impressions, reach),
        "cpm": None if not sums["impressions"] else sums["spend"] / sums["impressions"] * 1000,
        "cpc": ratio(sums["spend"], sums["clicks"]),
        "ctr": None if not sums["impressions"] else sums["clicks"] / sums["impressions"] * 100,
        "roas": ratio(sums["conversion_value"], sums["spend"]),
        "cpa": ratio(sums["spend"], sums["conversions"]),
        "currency": "USD",
        "spend_delta_pct": delta(sums["spend"], prior_spend),
    }


def test_campaigns_of_a_month_with_their_totals(results: httpx.Client) -> None:
    response = results.get("/api/clients/acme/results/campaigns", params=MARCH)
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"type": "month", "start": "2024-03-01", "end": "2024-03-31"}
    # Sorted by spend, descending; Old Promo ran only in February and is not listed.
    assert [c["campaign_id"] for c in body["campaigns"]] == ["m1", "g1", "m0"]
    metadata = {
        "m1": ("Spring Sale", "meta_ads", "ACTIVE", "OUTCOME_SALES", 50.0),
        "g1": ("Brand Search", "google_ads", "ENABLED", "SEARCH", None),
        "m0": ("zero spend", "meta_ads", "ACTIVE", "OUTCOME_SALES", 50.0),
    }
    listed_now, listed_before = [], []
    for campaign in body["campaigns"]:
        cid = campaign["campaign_id"]
        now = [row for row in campaign_rows("acme", MARCH_DAYS) if row.campaign_id == cid]
        before = [row for row in campaign_rows("acme", FEBRUARY_DAYS) if row.campaign_id == cid]
        listed_now += now
        listed_before += before
        name, platform, status, objective, daily_budget = metadata[cid]
        assert campaign == approx(
            expected_campaign(now, before)
            | {
                "campaign_id": cid, "campaign_name": name, "platform": platform, "campaign_status": status,
                "campaign_objective": objective, "daily_budget": daily_budget, "lifetime_budget": None,
            }
        )  # fmt: skip
    zero = body["campaigns"][2]
    assert (zero["spend"], zero["roas"], zero["cpm"], zero["ctr"], zero["cpa"], zero["frequency"]) == (
        0, None, None, None, None, None,
    )  # fmt: skip
    brand = body["campaigns"][1]
    assert brand["conversions"] == 0 and brand["cpa"] is None and brand["spend_delta_pct"] is None
    assert body["totals"] == approx(expected_campaign(listed_now, listed_before))
    assert body["warnings"] == []


@pytest.mark.parametrize(
    ("sort_by", "sort_dir", "order"),
    [
        ("spend", "asc", ["m0", "g1", "m1"]),
        ("campaign_name", "asc", ["g1", "m1", "m0"]),  # Brand Search, Spring Sale, zero spend: case-insensitive
        ("campaign_name", "desc", ["m0", "m1", "g1"]),
        ("roas", "asc", ["g1", "m1", "m0"]),  # m0's ROAS is null: last either way
        ("roas", "desc", ["m1", "g1", "m0"]),
        ("cpa", "desc", ["m1", "g1", "m0"]),  # both nulls last, ties broken by campaign id
        ("conversions", "asc", ["g1", "m0", "m1"]),  # g1 and m0 tie at zero
        ("frequency", "desc", ["m1", "g1", "m0"]),
    ],
)
def test_campaign_sort_options(results: httpx.Client, sort_by: str, sort_dir: str, order: list[str]) -> None:
    params = MARCH | {"sort_by": sort_by, "sort_dir": sort_dir}
    body = results.get("/api/clients/acme/results/campaigns", params=params).json()
    assert [c["campaign_id"] for c in body["campaigns"]] == order


def test_platform_filter_narrows_campaigns_totals_and_sparklines(results: httpx.Client) -> None:
    params = MARCH | {"platform": "google_ads"}
    body = results.get("/api/clients/acme/results/campaigns", params=params).json()
    assert [c["campaign_id"] for c in body["campaigns"]] == ["g1"]
    assert body["totals"] == approx(expected_campaign(campaign_rows("acme", MARCH_DAYS, "google_ads"), []))
    daily = results.get("/api/clients/acme/results/campaigns/daily", params=params).json()["daily"]
    assert list(daily) == ["g1"]
    shop = results.get("/api/clients/acme/results/campaigns", params=MARCH | {"platform": "shopify"}).json()
    assert shop["campaigns"] == []


def test_daily_spend_has_every_day_of_the_period(results: httpx.Client) -> None:
    response = results.get("/api/clients/acme/results/campaigns/daily", params=MARCH)
    assert response.status_code == 200
    daily = response.json()["daily"]
    assert sorted(daily) == ["g1", "m0", "m1"]
    for campaign_id, series in daily.items():
        spend = {
            row.date: float(row.spend) for row in campaign_rows("acme", MARCH_DAYS) if row.campaign_id == campaign_id
        }
        platform = next(row.platform for row in DATA.campaign_days if row.campaign_id == campaign_id)
        assert series == [
            {"date": day.isoformat(), "spend": spend.get(day, 0.0), "platform": platform, "maturing": False}
            for day in days(*MARCH_DAYS)
        ]
    assert daily["g1"][20] == {"date": "2024-03-21", "spend": 0.0, "platform": "google_ads", "maturing": False}
    week = results.get(
        "/api/clients/acme/results/campaigns/daily", params={"period_type": "week", "period_end": "2025-01-01"}
    )
    assert [point["date"] for point in week.json()["daily"]["m1"]] == ["2024-12-30", "2024-12-31", "2025-01-01"]


def test_amounts_in_several_currencies_are_not_added(results: httpx.Client) -> None:
    body = results.get("/api/clients/globex/results", params=MARCH).json()
    metrics = {m["metric_key"]: m for m in body["metrics"]}
    for key in ("spend", "conversion_value", "roas", "cpa", "cpm", "cpc"):
        assert metrics[key]["value"] is None and metrics[key]["currency"] is None, key
    assert metrics["impressions"]["value"] == 31 * (500 + 600)
    assert metrics["ctr"]["value"] == pytest.approx(31 * 22 / (31 * 1100) * 100)
    assert len(body["warnings"]) == 2 and all("EUR, USD" in warning for warning in body["warnings"])
    campaigns = results.get("/api/clients/globex/results/campaigns", params=MARCH).json()
    assert {c["campaign_id"]: (c["spend"], c["currency"]) for c in campaigns["campaigns"]} == {
        "x1": (620, "EUR"),
        "x2": (930, "USD"),
    }
    assert campaigns["totals"]["spend"] is None and campaigns["totals"]["currency"] is None
    assert campaigns["totals"]["impressions"] == 31 * 1100
    assert campaigns["warnings"] and "EUR, USD" in campaigns["warnings"][0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period_type": "decade"}, "period_type must be one of: week, month, quarter, year"),
        ({"period_end": "2024-13-01"}, "period_end must be a date as YYYY-MM-DD"),
        ({"period_end": "31/03/2024"}, "period_end must be a date as YYYY-MM-DD"),
        ({"period_end": "2999-01-01"}, "period_end must not be in the future"),
        ({"period_end": "0001-01-15"}, "period_end must not be before 2000-01-01"),
        ({"platform": "myspace"}, "platform must be one of: meta_ads, google_ads, tiktok_ads, shopify, ga4"),
        ({"sort_by": "name"}, "sort_by must be one of: spend, impressions, clicks, conversions, conversion_value"),
        ({"sort_dir": "up"}, "sort_dir must be one of: asc, desc"),
    ],
)
def test_bad_query_values_are_400_naming_the_allowed_ones(
    results: httpx.Client, params: dict[str, str], message: str
) -> None:
    routes = ["results", "results/campaigns", "results/campaigns/daily"]
    if "sort_by" in params or "sort_dir" in params:
        routes = ["results/campaigns"]
    elif "platform" in params:
        routes = ["results/campaigns", "results/campaigns/daily"]
    for route in routes:
        response = results.get(f"/api/clients/acme/{route}", params=params)
        assert response.status_code == 400, route
        assert response.json()["detail"].startswith(message)


def test_default_period_is_the_current_month(results: httpx.Client) -> None:
    body = results.get("/api/clients/acme/results").json()
    today = date.today()
    assert body["period"]["type"] == "month"
    assert body["period"]["start"] == today.replace(day=1).isoformat()
    assert body["period"]["end"] == today.isoformat()
