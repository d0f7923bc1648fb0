"""The oracle of the end-to-end tests: what the emulated platforms say an account spent, read over HTTP.

Each function asks the emulator the way an analyst would ask the real platform (its own report, page by page) and
adds the numbers up here, so the expected totals never come from Tally's loaders, models or rollups.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

META = "/v23.0"
TIKTOK = "/open_api/v1.3"


def account_timezone(emulator: httpx.Client, platform: str, credentials: dict[str, Any]) -> str:
    """The IANA time zone the platform reports the account's days in."""
    if platform == "meta_ads":
        node = emulator.get(
            f"{META}/act_{credentials['ad_account_id']}",
            params={"fields": "timezone_name"},
            headers={"Authorization": f"Bearer {credentials['access_token']}"},
        )
        return node.raise_for_status().json()["timezone_name"]
    if platform == "tiktok_ads":
        info = emulator.get(
            f"{TIKTOK}/advertiser/info/",
            params={"advertiser_ids": json.dumps([credentials["advertiser_id"]])},
            headers={"Access-Token": credentials["access_token"]},
        )
        return info.raise_for_status().json()["data"]["list"][0]["display_timezone"]
    raise ValueError(f"no spend oracle for {platform}")


def backfill_days(timezone: str, days: int, now: datetime) -> tuple[date, date]:
    """The days a backfill of ``days`` covers: that many ending yesterday in the account's time zone (the contract)."""
    yesterday = now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)
    return yesterday - timedelta(days=days - 1), yesterday


def served_spend(
    emulator: httpx.Client, platform: str, credentials: dict[str, Any], first: date, last: date
) -> Decimal:
    """The account's spend on ``first``..``last`` by the platform's own daily campaign report, summed here."""
    if platform == "meta_ads":
        amounts = [row["spend"] for row in meta_rows(emulator, credentials, first, last)]
    elif platform == "tiktok_ads":
        amounts = [row["metrics"]["spend"] for row in tiktok_rows(emulator, credentials, first, last)]
    else:
        raise ValueError(f"no spend oracle for {platform}")
    return sum((Decimal(amount) for amount in amounts), Decimal(0))


def meta_rows(emulator: httpx.Client, credentials: dict[str, Any], first: date, last: date) -> list[dict[str, Any]]:
    """Every row of Meta's daily campaign insights, following ``paging.next``."""
    headers = {"Authorization": f"Bearer {credentials['access_token']}"}
    params = {
        "level": "campaign",
        "time_increment": "1",
        "time_range": json.dumps({"since": first.isoformat(), "until": last.isoformat()}),
        "fields": "campaign_id,spend",
        "limit": "500",
    }
    page = emulator.get(f"{META}/act_{credentials['ad_account_id']}/insights", params=params, headers=headers)
    rows = []
    while True:
        body = page.raise_for_status().json()
        rows.extend(body["data"])
        if not (next_url := body.get("paging", {}).get("next")):
            return rows
        page = emulator.get(next_url, headers=headers)


def tiktok_rows(emulator: httpx.Client, credentials: dict[str, Any], first: date, last: date) -> list[dict[str, Any]]:
    """Every row of TikTok's daily campaign report, page by page."""
    params = {
        "advertiser_id": credentials["advertiser_id"],
        "report_type": "BASIC",
        "data_level": "AUCTION_CAMPAIGN",
        "dimensions": json.dumps(["campaign_id", "stat_time_day"]),
        "metrics": json.dumps(["spend"]),
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
        "page_size": "1000",
    }
    rows, number = [], 1
    while True:
        answer = emulator.get(
            f"{TIKTOK}/report/integrated/get/",
            params={**params, "page": str(number)},
            headers={"Access-Token": credentials["access_token"]},
        )
        data = answer.raise_for_status().json()["data"]
        rows.extend(data["list"])
        if number >= data["page_info"]["total_page"]:
            return rows
        number += 1
