"""Each ad platform's account-level totals, asked the platform's own way (Meta ``level=account``, GAQL
``FROM customer``, TikTok ``AUCTION_ADVERTISER``), add up to its campaign rows read over HTTP, restated days
included; the emulator's test-only control makes the account level disagree by a given percentage.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from pipelines.emulator.accounts import emulator_credentials
from pipelines.reconciliation import ACCOUNT_TOTALS
from pipelines.registry import get_platform
from tally.settings import Settings
from tests.pipelines.test_restatement import ACCOUNT_FIELD, DAY, READERS

DAYS = [DAY + timedelta(days=n) for n in range(3)]


def campaign_sums(emulator: httpx.Client, platform: str, account: str) -> tuple[Decimal, Decimal]:
    """Spend and conversions of every campaign-day of DAYS, read over HTTP and added up here."""
    rows = [value for day in DAYS for value in READERS[platform](emulator, account, day).values()]
    return sum((spend for spend, _ in rows), Decimal(0)), sum((conversions for _, conversions in rows), Decimal(0))


@pytest.mark.parametrize("platform", list(READERS))
def test_account_totals_add_up_to_the_campaign_rows_unless_told_to_disagree(
    emulator: httpx.Client, settings: Settings, platform: str
) -> None:
    raw = emulator_credentials(platform, 1)
    account = raw[ACCOUNT_FIELD[platform]]
    credentials = get_platform(platform).credentials_model.model_validate(raw)
    first_campaign = sorted(READERS[platform](emulator, account, DAY))[0][0]
    emulator.put(
        f"/_emulator/restatements/{platform}/{account}",
        json={"campaign_id": first_campaign, "date": DAY.isoformat(), "spend": "999.99", "conversions": 40},
    ).raise_for_status()
    spend, conversions = campaign_sums(emulator, platform, account)

    totals = ACCOUNT_TOTALS[platform](credentials, DAYS[0], DAYS[-1], settings)

    assert (totals["spend"], totals["conversions"]) == (spend, conversions)
    emulator.put(f"/_emulator/faults/{platform}/{account}", json={"account_level_gap_pct": 2.0}).raise_for_status()
    off = ACCOUNT_TOTALS[platform](credentials, DAYS[0], DAYS[-1], settings)
    assert off["spend"] == pytest.approx(spend * Decimal("1.02"), abs=Decimal("0.02"))
    assert off["conversions"] == pytest.approx(conversions * Decimal("1.02"), abs=Decimal(1))


def test_ga4_property_totals_add_up_to_its_campaign_rows(emulator: httpx.Client, settings: Settings) -> None:
    raw = emulator_credentials("ga4", 1)
    credentials = get_platform("ga4").credentials_model.model_validate(raw)
    first, last = date(2026, 9, 1), date(2026, 9, 7)
    body = {
        "dateRanges": [{"startDate": first.isoformat(), "endDate": last.isoformat()}],
        "dimensions": [{"name": "date"}, {"name": "sessionCampaignName"}, {"name": "sessionSourceMedium"}],
        "metrics": [{"name": "sessions"}, {"name": "keyEvents"}],
        "limit": "100000",
    }
    report = (
        emulator.post(
            f"/v1beta/properties/{credentials.property_id}:runReport", json=body, headers={"Authorization": "Bearer t"}
        )
        .raise_for_status()
        .json()
    )
    sessions = sum(Decimal(row["metricValues"][0]["value"]) for row in report["rows"])
    key_events = sum(Decimal(row["metricValues"][1]["value"]) for row in report["rows"])

    assert ACCOUNT_TOTALS["ga4"](credentials, first, last, settings) == {"sessions": sessions, "key_events": key_events}
