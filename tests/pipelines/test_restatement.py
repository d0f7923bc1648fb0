"""The emulator restates a past campaign-day through its test-only control, as the ad platforms do inside their
attribution windows: later pulls of that day see the new spend and conversions, every other day is unchanged.

Each platform is read over HTTP in its own dialect (Meta insights, Google Ads GAQL, TikTok's integrated report).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import httpx
import pytest

from pipelines.emulator import synthetic
from pipelines.emulator.accounts import emulator_credentials

DAY = date(2026, 9, 14)
OTHER_DAY = date(2026, 9, 15)
ACCOUNT_FIELD = {"meta_ads": "ad_account_id", "google_ads": "customer_id", "tiktok_ads": "advertiser_id"}
Served = dict[tuple[str, date], tuple[Decimal, Decimal]]


def meta_rows(emulator: httpx.Client, account: str, day: date) -> Served:
    params = {
        "level": "campaign",
        "time_increment": "1",
        "time_range": json.dumps({"since": day.isoformat(), "until": day.isoformat()}),
        "fields": "campaign_id,spend,actions",
        "access_token": "token",
        "limit": "500",
    }
    rows = emulator.get(f"/v23.0/act_{account}/insights", params=params).raise_for_status().json()["data"]
    return {
        (row["campaign_id"], day): (
            Decimal(row["spend"]),
            Decimal(next((a["value"] for a in row.get("actions", []) if a["action_type"] == "purchase"), "0")),
        )
        for row in rows
    }


def google_rows(emulator: httpx.Client, account: str, day: date) -> Served:
    query = (
        "SELECT campaign.id, metrics.cost_micros, metrics.conversions, segments.date FROM campaign "
        f"WHERE segments.date BETWEEN '{day}' AND '{day}'"
    )
    headers = {"Authorization": "Bearer ya29.token", "developer-token": "dev-token"}
    body = emulator.post(f"/v21/customers/{account}/googleAds:search", json={"query": query}, headers=headers)
    return {
        (row["campaign"]["id"], day): (
            Decimal(row["metrics"].get("costMicros", "0")) / 1_000_000,
            Decimal(str(row["metrics"].get("conversions", 0))),
        )
        for row in body.raise_for_status().json().get("results", [])
    }


def tiktok_rows(emulator: httpx.Client, account: str, day: date) -> Served:
    params = {
        "advertiser_id": account,
        "report_type": "BASIC",
        "data_level": "AUCTION_CAMPAIGN",
        "dimensions": json.dumps(["campaign_id", "stat_time_day"]),
        "metrics": json.dumps(["spend", "complete_payment"]),
        "start_date": day.isoformat(),
        "end_date": day.isoformat(),
        "page_size": "1000",
    }
    response = emulator.get("/open_api/v1.3/report/integrated/get/", params=params, headers={"Access-Token": "t"})
    return {
        (row["dimensions"]["campaign_id"], day): (
            Decimal(row["metrics"]["spend"]),
            Decimal(row["metrics"]["complete_payment"]),
        )
        for row in response.raise_for_status().json()["data"]["list"]
    }


READERS: dict[str, Callable[[httpx.Client, str, date], Served]] = {
    "meta_ads": meta_rows,
    "google_ads": google_rows,
    "tiktok_ads": tiktok_rows,
}


@pytest.mark.parametrize("platform", list(READERS))
def test_a_restated_day_is_served_with_its_new_numbers_and_nothing_else_moves(
    emulator: httpx.Client, platform: str
) -> None:
    account = emulator_credentials(platform, 1)[ACCOUNT_FIELD[platform]]
    read = READERS[platform]
    before, other_before = read(emulator, account, DAY), read(emulator, account, OTHER_DAY)
    campaign = next(c.id for c in synthetic.campaigns(platform, account) if (c.id, DAY) in before)
    old_spend, old_conversions = before[(campaign, DAY)]
    restated = {"campaign_id": campaign, "date": DAY.isoformat(), "spend": "123.45", "conversions": 17}

    response = emulator.put(f"/_emulator/restatements/{platform}/{account}", json=restated)

    assert response.status_code == 200
    after = read(emulator, account, DAY)
    assert (old_spend, old_conversions) != (Decimal("123.45"), Decimal(17))
    assert after[(campaign, DAY)] == (Decimal("123.45"), Decimal(17))
    assert {key: value for key, value in after.items() if key[0] != campaign} == {
        key: value for key, value in before.items() if key[0] != campaign
    }
    assert read(emulator, account, OTHER_DAY) == other_before
    emulator.post("/_emulator/reset").raise_for_status()
    assert read(emulator, account, DAY) == before
