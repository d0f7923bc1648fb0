"""TikTok's own totals of an advertiser over a range of local days: the ``BASIC`` report at
``data_level=AUCTION_ADVERTISER``, for the reconciliation check that compares them with the sum of the campaign
rows Tally loaded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipelines.tiktok_ads.client import api_client, json_list, report_windows, tiktok_http
from pipelines.tiktok_ads.credentials import TikTokAdsCredentials
from tally.settings import Settings


def metric_names(settings: Settings) -> dict[str, str]:
    """Our metric and the TikTok metric it is, with the configured conversion metric as the loads use it."""
    return {
        "spend": "spend",
        "impressions": "impressions",
        "clicks": "clicks",
        "conversions": settings.tiktok_ads_conversion_metric,
        "conversion_value": "total_complete_payment_rate",
    }


def account_totals(credentials: TikTokAdsCredentials, start: date, end: date, settings: Settings) -> dict[str, Decimal]:
    """The advertiser's spend, impressions, clicks, conversions and purchase value over the days, one report
    per window of at most 30 days (TikTok's longest for a daily report), by ``stat_time_day``."""
    http = tiktok_http(settings)
    client = api_client(http, credentials)
    names = metric_names(settings)
    totals = dict.fromkeys(names, Decimal(0))
    for first, last in report_windows(start, end):
        params = {
            "advertiser_id": credentials.advertiser_id,
            "report_type": "BASIC",
            "data_level": "AUCTION_ADVERTISER",
            "dimensions": json_list(["stat_time_day"]),
            "metrics": json_list(sorted(set(names.values()))),
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
        }
        body = http.get_json(client, "report/integrated/get/", params=params)
        for row in (body.get("data") or {}).get("list") or []:
            for metric, name in names.items():
                totals[metric] += Decimal(row["metrics"].get(name) or "0")
    return totals
