"""An answer's sources: each tool call behind it, the rows of its result the answer quotes, and how fresh the data
it read was; and the same for a QBR, stored with the review and served with it.

The real ``openai`` client talks to a scripted model server on loopback that answers with tool calls. The rows
are written here by hand, and so are their totals:

- ``m1`` "Always on" (Meta): 8 a day in February 2024 (1,000 impressions, 40 clicks, 1 conversion worth 30),
  10 a day in March with the same delivery. February's spend is 29 x 8 = 232, March's 31 x 10 = 310.
- ``g1`` "Brand" (Google Ads): 5 a day March 1-10 (500 impressions, 20 clicks, no conversions): 50.
- March's spend is 360 (up (360 - 232) / 232 = 55.17% on February); its ROAS 31 x 30 / 360 = 2.583.
- Meta is loaded through April 30 (settled through April 2: March is settled), Google Ads through March 10
  (settled through February 9, 30 days before: all of March is maturing).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tally.settings import Settings
from tests.api.conftest import TokenMaker
from tests.api.routes.hand_marts import KINDS, served_api, served_marts
from tests.fake_openai import FakeOpenAI
from tests.results_data import CampaignDay, Fixture, days
from warehouse.app_tables import connections

COMPANY = "src"
MARCH = {"period_type": "month", "period_end": "2024-03-31"}
MARCH_PERIOD = {"type": "month", "start": "2024-03-01", "end": "2024-03-31"}
FEBRUARY_PERIOD = {"type": "month", "start": "2024-02-01", "end": "2024-02-29"}
META_FRESHNESS = {
    "platform": "meta_ads",
    "loaded_through": "2024-04-30",
    "settled_through": "2024-04-02",  # 28 days before April 30
    "status": "succeeded",
    "maturing": False,
}
GOOGLE_FRESHNESS = {
    "platform": "google_ads",
    "loaded_through": "2024-03-10",
    "settled_through": "2024-02-09",  # 30 days before March 10
    "status": "succeeded",
    "maturing": True,
}
# The answer the model gives, and every number in it (dates aside), as it writes them.
NUMBERS = ["360.00", "55.2%", "2.58", "310.00", "50.00", "5.00"]
ANSWER = (
    "In March 2024 (2024-03-01 to 2024-03-31) spend was USD {}, up {} on February, with a ROAS of {}. "
    '"Always on" (meta_ads) spent USD {} and "Brand" (google_ads) USD {}, USD {} a day from March 1 to March 10.'
).format(*NUMBERS)


def fixture_rows() -> Fixture:
    """The rows of the module docstring."""
    meta = [
        CampaignDay(COMPANY, "meta_ads", "m1", "Always on", day, Decimal(spend), 1000, 40, Decimal(1), Decimal(30), 800)
        for first, last, spend in ((date(2024, 2, 1), date(2024, 2, 29), 8), (date(2024, 3, 1), date(2024, 3, 31), 10))
        for day in days(first, last)
    ]
    google = [
        CampaignDay(COMPANY, "google_ads", "g1", "Brand", day, Decimal(5), 500, 20, Decimal(0), Decimal(0), None)
        for day in days(date(2024, 3, 1), date(2024, 3, 10))
    ]
    # The warehouse needs a sales and a traffic row; they are another company's.
    sales = [("nobody", date(2024, 3, 1), 1, Decimal(1), "USD")]
    traffic = [("nobody", date(2024, 3, 1), "c", "google / cpc", 1, Decimal(0), Decimal(0), "USD")]
    return Fixture(meta + google, sales, traffic)


@pytest.fixture(scope="module", params=KINDS)
def source_marts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with served_marts(request.param, fixture_rows(), tmp_path_factory) as settings:
        yield settings


def add_connection(engine: sa.Engine, platform: str, loaded_through: date) -> None:
    """A connection of ``src`` whose last load succeeded, covering days through ``loaded_through``."""
    stamp = datetime.now(UTC)
    with engine.begin() as db:
        db.execute(
            connections.insert().values(
                id=f"{COMPANY}-{platform}",
                company_id=COMPANY,
                platform=platform,
                status="active",
                source="manual",
                scopes=[],
                loaded_through=loaded_through,
                last_synced_at=stamp,
                created_at=stamp,
                updated_at=stamp,
            )
        )


@pytest.fixture()
def api(
    api_settings: Settings, app_engine: sa.Engine, source_marts: dict, fake_model: FakeOpenAI, make_token: TokenMaker
) -> Iterator[httpx.Client]:
    add_connection(app_engine, "meta_ads", date(2024, 4, 30))
    add_connection(app_engine, "google_ads", date(2024, 3, 10))
    with served_api(api_settings, source_marts, fake_model, make_token(companies=[COMPANY]), app_engine) as http:
        yield http


def reads_as(written: str, value: Any) -> bool:
    """Whether ``value`` rounded to the decimals ``written`` shows is the number written (its sign aside)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    digits = written.strip("%+-").replace(",", "")
    decimals = len(digits.partition(".")[2])
    return abs(abs(value) - float(digits)) <= 0.5 * 10**-decimals + 1e-9


def figure_values(sources: list[dict[str, Any]]) -> list[Any]:
    return [value for source in sources for figure in source["figures"] for value in figure["values"].values()]


def check_every_number_is_sourced(text: str, numbers: list[str], sources: list[dict[str, Any]]) -> None:
    """Each of ``numbers`` is in ``text`` and read as one of the sources' figures; ``text`` holds no other number
    once its dates and years are taken out."""
    without_dates = re.sub(r"\d{4}-\d{2}-\d{2}|(?:January|February|March) \d{1,2}\b|\b2024\b", "", text)
    assert re.findall(r"(?<![\w.])[+-]?\d[\d,]*(?:\.\d+)?%?", without_dates) == numbers
    values = figure_values(sources)
    assert [number for number in numbers if not any(reads_as(number, value) for value in values)] == []


def test_an_answer_lists_each_tool_call_with_the_rows_it_quotes(api: httpx.Client, fake_model: FakeOpenAI) -> None:
    fake_model.call_tools(("period_metrics", MARCH), ("top_campaigns", {**MARCH, "limit": 2}))
    fake_model.call_tools(("campaign_daily_spend", {**MARCH, "campaign_id": "g1", "platform": "google_ads"}))
    fake_model.answer(ANSWER)

    response = api.post(f"/api/clients/{COMPANY}/results/ask", json={"question": "How did March go?"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == ANSWER and body["unsourced_numbers"] == []
    check_every_number_is_sourced(body["answer"], NUMBERS, body["sources"])
    metrics, campaigns, daily = body["sources"]

    assert {key: metrics[key] for key in ("tool", "arguments", "period", "prior_period", "platforms", "metric")} == {
        "tool": "period_metrics", "arguments": MARCH, "period": MARCH_PERIOD, "prior_period": FEBRUARY_PERIOD,
        "platforms": ["google_ads", "meta_ads"], "metric": None,
    }  # fmt: skip
    assert metrics["freshness"] == [GOOGLE_FRESHNESS, META_FRESHNESS] and metrics["error"] is None
    spend, roas = metrics["figures"]
    assert (spend["table"], spend["quoted"], roas["table"], roas["quoted"]) == ("metrics", ["360.00", "55.2%"],
                                                                                "metrics", ["2.58"])  # fmt: skip
    assert {key: spend["values"][key] for key in ("metric_key", "value", "prior_value", "currency", "data_points")} == {
        "metric_key": "spend", "value": 360.0, "prior_value": 232.0, "currency": "USD", "data_points": 31,
    }  # fmt: skip
    assert spend["values"]["delta_pct"] == pytest.approx((360 - 232) / 232 * 100)
    assert roas["values"]["metric_key"] == "roas" and roas["values"]["value"] == pytest.approx(31 * 30 / 360)

    assert campaigns["arguments"] == {**MARCH, "metric": "spend", "order": "top", "limit": 2, "platform": None}
    assert (campaigns["metric"], campaigns["platforms"]) == ("spend", ["google_ads", "meta_ads"])
    assert campaigns["freshness"] == [GOOGLE_FRESHNESS, META_FRESHNESS]
    assert [(f["table"], f["values"].get("campaign_id"), f["quoted"]) for f in campaigns["figures"]] == [
        ("campaigns", "m1", ["310.00", "Always on"]),
        ("campaigns", "g1", ["50.00", "Brand"]),
        # Every campaign of March added up holds March's spend, its change and its ROAS too.
        ("campaign_totals", None, ["360.00", "55.2%", "2.58"]),
    ]
    assert [figure["values"]["spend"] for figure in campaigns["figures"]] == [310.0, 50.0, 360.0]

    assert (daily["tool"], daily["metric"], daily["platforms"]) == ("campaign_daily_spend", "spend", ["google_ads"])
    assert daily["freshness"] == [GOOGLE_FRESHNESS]
    assert daily["figures"] == [
        {"table": "daily_spend", "values": {"platform": "google_ads", "date": day.isoformat(), "spend": 5.0},
         "quoted": ["5.00"]}
        for day in days(date(2024, 3, 1), date(2024, 3, 10))
    ]  # fmt: skip


def test_a_number_no_tool_returned_is_listed_as_unsourced(api: httpx.Client, fake_model: FakeOpenAI) -> None:
    fake_model.call_tools(("period_metrics", MARCH), ("top_campaigns", {**MARCH, "company_id": "globex"}))
    fake_model.answer("Spend in March 2024 was USD 360.00; next month it will be USD 999.99.")

    body = api.post(f"/api/clients/{COMPANY}/results/ask", json={"question": "And April?"}).json()

    assert body["unsourced_numbers"] == ["999.99"]
    metrics, refused = body["sources"]
    assert [figure["values"]["metric_key"] for figure in metrics["figures"]] == ["spend"]
    assert refused == {
        "tool": "top_campaigns", "arguments": {**MARCH, "company_id": "globex"}, "period": None,
        "prior_period": None, "platforms": [], "metric": None, "figures": [], "freshness": [],
        "error": "invalid arguments: company_id: Extra inputs are not permitted",
    }  # fmt: skip


# The template's review of January to March 2024 (as of April 15): January has no rows; February's prior days
# (January 1-29) none either, its ROAS 870 / 232 = 3.75; March against February as above, its conversions 31
# against 29 (+6.9%), CPA 360 / 31 = 11.61 against 8 (+45.2%), ROAS 2.58 against 3.75 (-31.1%); Always on spent
# 232 + 310 = 542 over the three months and nothing in the three before.
QBR_NUMBERS = [
    "232.00", "29", "870.00", "3.75", "8.00",
    "360.00", "+55.2%", "31", "+6.9%", "930.00", "+6.9%", "2.58", "-31.1%", "11.61", "+45.2%",
    "542.00", "50.00",
]  # fmt: skip


def test_a_qbr_is_stored_and_served_with_its_sources(
    api_settings: Settings, app_engine: sa.Engine, source_marts: dict, make_token: TokenMaker
) -> None:
    add_connection(app_engine, "meta_ads", date(2024, 4, 30))
    add_connection(app_engine, "google_ads", date(2024, 3, 10))
    with served_api(api_settings, source_marts, None, make_token(companies=[COMPANY]), app_engine) as api:
        response = api.post(f"/api/clients/{COMPANY}/results/prepare-qbr", params={"as_of": "2024-04-15"})
        assert response.status_code == 201, response.text
        listed = api.get(f"/api/clients/{COMPANY}/qbrs").json()["qbrs"]

    qbr = response.json()["qbr"]
    assert listed == [qbr] and qbr["source"] == "template"
    assert qbr["unsourced_numbers"] == []
    check_every_number_is_sourced(qbr["summary"], QBR_NUMBERS, qbr["sources"])
    january, february, march, campaigns = qbr["sources"]
    assert [source["arguments"] for source in (january, february, march)] == [
        {"period_type": "month", "period_end": end} for end in ("2024-01-31", "2024-02-29", "2024-03-31")
    ]
    assert january["figures"] == [] and february["period"] == FEBRUARY_PERIOD
    # February is maturing on Google Ads (settled through February 9) but not on Meta; so is March.
    assert february["freshness"] == march["freshness"] == [GOOGLE_FRESHNESS, META_FRESHNESS]
    by_metric = {figure["values"]["metric_key"]: figure["values"] for figure in march["figures"]}
    assert (by_metric["spend"]["value"], by_metric["conversions"]["value"]) == (360.0, 31.0)
    assert by_metric["cpa"]["value"] == pytest.approx(360 / 31)
    assert campaigns["period"] == {"type": None, "start": "2024-01-01", "end": "2024-03-31"}
    assert [(f["values"].get("campaign_id"), f["values"]["spend"]) for f in campaigns["figures"]] == [
        ("m1", 542.0),
        ("g1", 50.0),
    ]


def test_a_qbr_the_model_writes_quotes_the_month_it_read(
    api_settings: Settings, app_engine: sa.Engine, source_marts: dict, fake_model: FakeOpenAI, make_token: TokenMaker
) -> None:
    with served_api(api_settings, source_marts, fake_model, make_token(companies=[COMPANY]), app_engine) as api:
        fake_model.answer("Q1 2024: spend reached USD 360.00 in March, up 55.2% on February.")
        qbr = api.post(f"/api/clients/{COMPANY}/results/prepare-qbr", params={"as_of": "2024-04-15"}).json()["qbr"]
    assert qbr["source"] == "llm" and qbr["unsourced_numbers"] == []
    # Only March's metrics hold 360 and 55.2%: the three months' campaign totals are 542 + 50.
    [march] = [source for source in qbr["sources"] if source["figures"]]
    assert (march["tool"], march["period"]) == ("period_metrics", MARCH_PERIOD)
    [spend] = march["figures"]
    assert spend["values"]["metric_key"] == "spend" and spend["quoted"] == ["360.00", "55.2%"]
