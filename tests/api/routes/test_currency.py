"""?currency= on the results routes: every amount converted day by day at that day's ECB rate, through the euro.

Company ``fxco`` runs a Meta account in USD and a Google Ads account in GBP, and a Shopify store in GBP, over the
ISO week of Monday 2024-03-04 to Sunday 2024-03-10 (and one day of the prior week). The rates and rows are written
here by hand, and so is every expected figure: each row's converted amount is worked out in its comment.

Rates are units per euro. Thursday 03-07 and Friday 03-08 differ a lot, and Monday 03-11 differs again, so a
weekend day that took any rate but Friday's would show: Saturday 03-09 and Sunday 03-10 take Friday's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import httpx
import pytest

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.api.conftest import TokenMaker
from tests.api.routes.hand_marts import KINDS, served_marts
from tests.results_data import CampaignDay, Fixture
from warehouse.models import execute, model_sql
from warehouse.rates import publish_rates

WEEK = {"period_type": "week", "period_end": "2024-03-10"}
THU, FRI, SAT, SUN = date(2024, 3, 7), date(2024, 3, 8), date(2024, 3, 9), date(2024, 3, 10)
PRIOR_FRI = date(2024, 3, 1)
RATES = [
    (date(2024, 2, 29), "USD", Decimal("1.05")), (date(2024, 2, 29), "GBP", Decimal("0.84")),
    (PRIOR_FRI, "USD", Decimal("1.08")), (PRIOR_FRI, "GBP", Decimal("0.85")),
    *[(date(2024, 3, day), currency, rate) for day in (4, 5, 6)
      for currency, rate in (("USD", Decimal("1.02")), ("GBP", Decimal("0.81")))],
    (THU, "USD", Decimal("1.10")), (THU, "GBP", Decimal("0.80")),
    (FRI, "USD", Decimal("1.25")), (FRI, "GBP", Decimal("0.50")),
    (date(2024, 3, 11), "USD", Decimal("1.00")), (date(2024, 3, 11), "GBP", Decimal("0.90")),
    *[(day, "JPY", Decimal("160")) for day in (date(2024, 2, 29), PRIOR_FRI, THU, FRI, date(2024, 3, 11))],
]  # fmt: skip


def usd(day: date, spend: str, impressions: int, clicks: int, conversions: int, value: str) -> CampaignDay:
    return CampaignDay("fxco", "meta_ads", "u1", "Dollars", day, Decimal(spend), impressions, clicks,
                       Decimal(conversions), Decimal(value), None, currency="USD", account_id="act-usd")  # fmt: skip


def gbp(day: date, spend: str, impressions: int, clicks: int, conversions: int, value: str) -> CampaignDay:
    return CampaignDay("fxco", "google_ads", "g1", "Pounds", day, Decimal(spend), impressions, clicks,
                       Decimal(conversions), Decimal(value), None, currency="GBP", account_id="123-gbp")  # fmt: skip


def currency_data() -> Fixture:
    rows = [
        usd(PRIOR_FRI, "108", 1000, 40, 1, "216"),  # 108 / 1.08 = 100 EUR; value 216 / 1.08 = 200 EUR
        gbp(PRIOR_FRI, "85", 500, 10, 1, "170"),  # 85 / 0.85 = 100 EUR; value 170 / 0.85 = 200 EUR
        usd(THU, "110", 1000, 50, 2, "220"),  # 110 / 1.10 = 100 EUR; value 220 / 1.10 = 200 EUR
        usd(FRI, "125", 1000, 50, 1, "250"),  # 125 / 1.25 = 100 EUR; value 250 / 1.25 = 200 EUR
        usd(SAT, "250", 2000, 100, 4, "500"),  # Friday's rate: 250 / 1.25 = 200 EUR; value 500 / 1.25 = 400 EUR
        usd(SUN, "125", 1000, 50, 1, "0"),  # Friday's rate: 125 / 1.25 = 100 EUR
        gbp(THU, "80", 500, 20, 1, "160"),  # 80 / 0.80 = 100 EUR; value 160 / 0.80 = 200 EUR
        gbp(SAT, "50", 500, 30, 1, "25"),  # Friday's rate: 50 / 0.50 = 100 EUR; value 25 / 0.50 = 50 EUR
        # Before the first rate (2024-02-29): cannot be converted.
        CampaignDay("early", "meta_ads", "e1", "Too early", date(2024, 2, 28), Decimal(10), 100, 1, Decimal(0),
                    Decimal(0), None, currency="USD"),
    ]  # fmt: skip
    sales = [
        ("fxco", FRI, 2, Decimal(100), "GBP"),  # 100 / 0.50 = 200 EUR
        ("fxco", SUN, 1, Decimal(40), "GBP"),  # Friday's rate: 40 / 0.50 = 80 EUR
    ]
    return Fixture(rows, sales, [], RATES)


# In EUR: spend 100 + 100 + 200 + 100 (USD) + 100 + 100 (GBP) = 700, conversion value 200 + 200 + 400 + 0 + 200
# + 50 = 1050, impressions 6000, clicks 300, conversions 10; the prior week: spend 200, conversion value 400.
EXPECTED_EUR = {
    "spend": (700.0, 200.0, "EUR", ["GBP", "USD"]),
    "impressions": (6000.0, 1500.0, None, None),
    "clicks": (300.0, 50.0, None, None),
    "conversions": (10.0, 2.0, None, None),
    "conversion_value": (1050.0, 400.0, "EUR", ["GBP", "USD"]),
    "roas": (1050 / 700, 400 / 200, None, ["GBP", "USD"]),
    "cpa": (700 / 10, 200 / 2, "EUR", ["GBP", "USD"]),
    "cpm": (700 / 6000 * 1000, 200 / 1500 * 1000, "EUR", ["GBP", "USD"]),
    "cpc": (700 / 300, 200 / 50, "EUR", ["GBP", "USD"]),
    "ctr": (300 / 6000 * 100, 50 / 1500 * 100, None, None),
    "revenue": (280.0, None, "EUR", ["GBP"]),
    "orders": (3.0, None, None, None),
}


@pytest.fixture(scope="module", params=KINDS)
def currency_marts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with served_marts(request.param, currency_data(), tmp_path_factory) as updates:
        yield updates


@pytest.fixture()
def client(api_settings: Settings, currency_marts: dict, make_token: TokenMaker) -> Iterator[httpx.Client]:
    app = create_app(api_settings.model_copy(update=currency_marts))
    token = make_token(companies=["fxco", "early"])
    with (
        serve_in_thread(app, ready_path="/readyz") as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        yield http


def get(client: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/api/clients/fxco/results{path}", params=WEEK | params)
    assert response.status_code == 200, response.text
    return response.json()


def test_results_in_eur_add_up_every_currency_at_each_days_rate(client: httpx.Client) -> None:
    metrics = {metric["metric_key"]: metric for metric in get(client, "", currency="EUR")["metrics"]}
    assert set(metrics) == set(EXPECTED_EUR)
    for key, (value, prior, currency, converted_from) in EXPECTED_EUR.items():
        metric = metrics[key]
        assert metric["value"] == pytest.approx(value), key
        assert metric["prior_value"] == pytest.approx(prior), key
        assert (metric["currency"], metric["converted_from"]) == (currency, converted_from), key
    assert metrics["spend"]["delta_pct"] == pytest.approx(250.0)  # 700 against 200
    assert metrics["spend"]["data_points"] == 4


def test_conversion_goes_through_the_euro_into_any_quoted_currency(client: httpx.Client) -> None:
    metrics = {metric["metric_key"]: metric for metric in get(client, "", currency="USD")["metrics"]}
    # Dollars stay as they were (110 / 1.10 * 1.10); pounds: 80 / 0.80 * 1.10 = 110 and, on Saturday at Friday's
    # rates, 50 / 0.50 * 1.25 = 125. So 110 + 125 + 250 + 125 + 110 + 125 = 845 USD.
    assert metrics["spend"]["value"] == pytest.approx(845.0)
    assert (metrics["spend"]["currency"], metrics["spend"]["converted_from"]) == ("USD", ["GBP", "USD"])


def test_without_a_currency_nothing_is_converted_or_added(client: httpx.Client) -> None:
    body = get(client, "")
    spend = next(metric for metric in body["metrics"] if metric["metric_key"] == "spend")
    assert spend["value"] is None and spend["currency"] is None
    assert "converted_from" not in spend
    assert body["warnings"] == [
        "spend is reported in several currencies (GBP, USD) and is not added up until conversion exists",
        "conversion_value is reported in several currencies (GBP, USD) and is not added up until conversion exists",
    ]
    campaigns = get(client, "/campaigns")
    assert all("converted_from" not in row for row in [*campaigns["campaigns"], campaigns["totals"]])
    assert set(get(client, "/campaigns/daily")) == {"daily", "freshness"}


def test_campaigns_in_eur(client: httpx.Client) -> None:
    body = get(client, "/campaigns", currency="EUR")
    rows = {row["campaign_id"]: row for row in body["campaigns"]}
    # u1: spend 100 + 100 + 200 + 100 = 500 EUR, value 200 + 200 + 400 + 0 = 800 EUR, prior spend 100 EUR.
    # g1: spend 100 + 100 = 200 EUR, value 200 + 50 = 250 EUR, prior spend 100 EUR.
    expected = {
        "u1": {"spend": 500.0, "conversion_value": 800.0, "roas": 1.6, "cpa": 62.5, "cpc": 2.0, "cpm": 100.0,
               "spend_delta_pct": 400.0},
        "g1": {"spend": 200.0, "conversion_value": 250.0, "roas": 1.25, "cpa": 100.0, "cpc": 4.0, "cpm": 200.0,
               "spend_delta_pct": 100.0},
    }  # fmt: skip
    for campaign_id, figures in expected.items():
        assert {key: rows[campaign_id][key] for key in figures} == pytest.approx(figures), campaign_id
    assert [(row["currency"], row["converted_from"]) for row in rows.values()] == [("EUR", ["USD"]), ("EUR", ["GBP"])]
    assert list(rows) == ["u1", "g1"]  # sorted by converted spend
    totals = body["totals"]
    assert {key: totals[key] for key in ("spend", "conversion_value", "roas", "spend_delta_pct")} == pytest.approx(
        {"spend": 700.0, "conversion_value": 1050.0, "roas": 1.5, "spend_delta_pct": 250.0}
    )
    assert (totals["currency"], totals["converted_from"], body["warnings"]) == ("EUR", ["GBP", "USD"], [])


def test_daily_spend_in_eur_takes_fridays_rate_on_the_weekend(client: httpx.Client) -> None:
    body = get(client, "/campaigns/daily", currency="EUR")
    spend = {campaign: [point["spend"] for point in points] for campaign, points in body["daily"].items()}
    # Monday 03-04 to Sunday 03-10. Saturday's 50 GBP at Friday's 0.50 is 100 EUR (at Monday's 0.90 it would be
    # 55.56, at Thursday's 0.80 62.5); Saturday's 250 USD at Friday's 1.25 is 200 EUR.
    assert set(spend) == {"u1", "g1"}
    assert spend["u1"] == pytest.approx([0, 0, 0, 100, 100, 200, 100])
    assert spend["g1"] == pytest.approx([0, 0, 0, 100, 0, 100, 0])
    assert (body["currency"], body["converted_from"]) == ("EUR", ["GBP", "USD"])


@pytest.mark.parametrize("path", ["", "/campaigns", "/campaigns/daily"])
@pytest.mark.parametrize("code", ["XYZ", "eur", "EURO", ""])
def test_an_unknown_currency_is_400_listing_the_available_ones(client: httpx.Client, path: str, code: str) -> None:
    response = client.get(f"/api/clients/fxco/results{path}", params=WEEK | {"currency": code})
    assert response.status_code == 400
    assert response.json() == {"detail": "currency must be one of: EUR, GBP, JPY, USD"}


def test_amounts_before_the_first_rate_are_400_naming_the_days(client: httpx.Client) -> None:
    response = client.get("/api/clients/early/results", params={"period_end": "2024-02-29", "currency": "EUR"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "amounts cannot be converted into EUR without a reference rate: "
        "USD on 1 days from 2024-02-28 to 2024-02-28"
    }


def test_remembered_answers_are_per_currency_and_end_with_new_rates(
    api_settings: Settings, tmp_path_factory: pytest.TempPathFactory, make_token: TokenMaker
) -> None:
    """The answer cache keys a converted answer by the currency and by the published rates' version."""
    with served_marts("duckdb", currency_data(), tmp_path_factory) as updates:
        app = create_app(api_settings.model_copy(update=updates | {"answer_cache_bytes": 10_000_000}))
        token = make_token(companies=["fxco"])
        headers = {"Authorization": f"Bearer {token}"}
        with serve_in_thread(app, ready_path="/readyz") as url, httpx.Client(base_url=url, headers=headers) as http:

            def spend(currency: str) -> float:
                body = http.get("/api/clients/fxco/results", params=WEEK | {"currency": currency}).json()
                return next(metric["value"] for metric in body["metrics"] if metric["metric_key"] == "spend")

            assert [spend("EUR"), spend("USD"), spend("EUR")] == pytest.approx([700.0, 845.0, 700.0])
            # The ECB's rates change (every USD rate doubles): a new version of the rates is published.
            with duckdb.connect(str(updates["data_dir"] / "warehouse.duckdb")) as warehouse:
                execute(warehouse, "update staging.stg_fx__reference_rates set rate_per_eur = rate_per_eur * 2 "
                                   "where currency = 'USD'")  # fmt: skip
                execute(warehouse, "drop table marts.fx_rates")
                execute(warehouse, f"create table marts.fx_rates as {model_sql('marts', 'fx_rates.sql')}")
                publish_rates(warehouse, updates["data_dir"] / "serving_rates")
            # The dollars are worth half as many euros: 500 / 2 + 200 = 450.
            assert spend("EUR") == pytest.approx(450.0)


def test_the_currency_parameter_is_documented(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    for path in ("", "/campaigns", "/campaigns/daily"):
        parameters = document["paths"][f"/api/clients/{{companyId}}/results{path}"]["get"]["parameters"]
        (currency,) = [parameter for parameter in parameters if parameter["name"] == "currency"]
        assert "ISO 4217" in currency["description"]
    metric = document["components"]["schemas"]["MetricOut"]["properties"]
    assert "converted_from" in metric and "converted from" in metric["converted_from"]["description"]
