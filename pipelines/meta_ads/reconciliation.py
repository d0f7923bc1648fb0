"""Meta's own totals of an ad account over a range of local days: insights at ``level=account``, for the
reconciliation check that compares them with the sum of the campaign rows Tally loaded."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from pipelines.base import date_range_params
from pipelines.meta_ads.client import api_client, meta_http
from pipelines.meta_ads.credentials import MetaAdsCredentials
from tally.settings import Settings

ACCOUNT_FIELDS = ("spend", "impressions", "clicks", "actions", "action_values")


def chosen(entries: list[dict[str, Any]] | None, action_type: str) -> Decimal:
    """The value of the one action type Tally counts as a conversion (Meta repeats a purchase under several)."""
    return sum((Decimal(entry["value"]) for entry in entries or [] if entry["action_type"] == action_type), Decimal(0))


def account_totals(credentials: MetaAdsCredentials, start: date, end: date, settings: Settings) -> dict[str, Decimal]:
    """The account's spend, impressions, clicks, conversions and conversion value over the days, as Meta
    reports them for the whole account (one ``all_days`` row; none when nothing was delivered)."""
    since, until = date_range_params(start, end)
    http = meta_http(settings, credentials)
    params = {
        "level": "account",
        "time_range": json.dumps({"since": since, "until": until}, separators=(",", ":")),
        "fields": ",".join(ACCOUNT_FIELDS),
    }
    body = http.get_json(api_client(http, credentials), f"{credentials.account_node}/insights", params=params)
    rows = body.get("data") or [] if isinstance(body, dict) else []
    action_type = settings.meta_ads_conversion_action_type
    totals = dict.fromkeys(("spend", "impressions", "clicks", "conversions", "conversion_value"), Decimal(0))
    for row in rows:
        totals["spend"] += Decimal(row.get("spend", "0"))
        totals["impressions"] += Decimal(row.get("impressions", "0"))
        totals["clicks"] += Decimal(row.get("clicks", "0"))
        totals["conversions"] += chosen(row.get("actions"), action_type)
        totals["conversion_value"] += chosen(row.get("action_values"), action_type)
    return totals
