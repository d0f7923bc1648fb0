"""Daily spend per campaign for sparklines, when two platforms have a campaign of the same id.

Campaign ids are per platform, so Meta's campaign ``c1`` and Google Ads' ``c1`` are two campaigns. The contract
keys ``daily`` by campaign_id; each point names its platform, so the two series stay apart under their key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest

from tally.settings import Settings
from tests.api.conftest import TokenMaker
from tests.api.routes.hand_marts import KINDS, served_api, served_marts
from tests.fake_openai import FakeOpenAI
from tests.results_data import CampaignDay, Fixture, days

PERIOD = {"period_type": "month", "period_end": "2024-03-04"}


def twin_rows() -> Fixture:
    """Meta's c1 spends 10 a day March 1-3, Google Ads' c1 7 a day March 2-4, Meta's c2 3 on March 4."""
    rows = [
        CampaignDay("twins", "meta_ads", "c1", "Meta one", day, Decimal(10), 100, 1, Decimal(0), Decimal(0), 50)
        for day in days(date(2024, 3, 1), date(2024, 3, 3))
    ]
    rows += [
        CampaignDay("twins", "google_ads", "c1", "Google one", day, Decimal(7), 100, 1, Decimal(0), Decimal(0), None)
        for day in days(date(2024, 3, 2), date(2024, 3, 4))
    ]
    rows.append(CampaignDay("twins", "meta_ads", "c2", "Meta two", date(2024, 3, 4), Decimal(3), 10, 1,
                            Decimal(0), Decimal(0), 5))  # fmt: skip
    sales = [("nobody", date(2024, 3, 1), 1, Decimal(1), "USD")]
    traffic = [("nobody", date(2024, 3, 1), "c", "google / cpc", 1, Decimal(0), Decimal(0), "USD")]
    return Fixture(rows, sales, traffic)


def series(platform: str, spends: list[float]) -> list[dict]:
    """March 1-4 of one platform's campaign, as the route shows each point."""
    return [
        {"date": day.isoformat(), "spend": spend, "platform": platform, "maturing": False}
        for day, spend in zip(days(date(2024, 3, 1), date(2024, 3, 4)), spends, strict=True)
    ]


@pytest.fixture(scope="module", params=KINDS)
def twin_marts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with served_marts(request.param, twin_rows(), tmp_path_factory) as settings:
        yield settings


@pytest.fixture()
def twins(
    api_settings: Settings, twin_marts: dict, fake_model: FakeOpenAI, make_token: TokenMaker
) -> Iterator[httpx.Client]:
    with served_api(api_settings, twin_marts, fake_model, make_token(companies=["twins"])) as http:
        yield http


def test_two_platforms_campaigns_of_one_id_are_two_series(twins: httpx.Client) -> None:
    response = twins.get("/api/clients/twins/results/campaigns/daily", params=PERIOD)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "daily": {
            # Ordered by platform, then date: Google Ads' series, then Meta's.
            "c1": series("google_ads", [0, 7, 7, 7]) + series("meta_ads", [10, 10, 10, 0]),
            "c2": series("meta_ads", [0, 0, 0, 3]),
        },
        "freshness": [],  # twins has no connection
    }
    only_meta = twins.get("/api/clients/twins/results/campaigns/daily", params=PERIOD | {"platform": "meta_ads"})
    assert only_meta.json()["daily"]["c1"] == series("meta_ads", [10, 10, 10, 0])


def test_the_assistant_gets_each_platforms_series_apart(twins: httpx.Client, fake_model: FakeOpenAI) -> None:
    fake_model.call_tools(
        ("campaign_daily_spend", {**PERIOD, "campaign_id": "c1"}),
        ("campaign_daily_spend", {**PERIOD, "campaign_id": "c1", "platform": "google_ads"}),
    )
    fake_model.answer("Two campaigns are called c1.")

    response = twins.post("/api/clients/twins/results/ask", json={"question": "How did c1 spend?"})

    assert response.status_code == 200, response.text
    both, google = fake_model.requests[1].tool_results()
    points = {
        "google_ads": [{"date": f"2024-03-0{d}", "spend": s} for d, s in zip(range(1, 5), [0, 7, 7, 7], strict=True)],
        "meta_ads": [{"date": f"2024-03-0{d}", "spend": s} for d, s in zip(range(1, 5), [10, 10, 10, 0], strict=True)],
    }
    assert both["daily_spend_by_platform"] == points
    assert google["daily_spend_by_platform"] == {"google_ads": points["google_ads"]}
