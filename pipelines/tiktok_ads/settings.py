"""Constants of the TikTok Ads connector: the report we ask for, page sizes, error codes and the sync lookback."""

from __future__ import annotations

import polars as pl

PLATFORM = "tiktok_ads"
DISPLAY_NAME = "TikTok Ads"
ICON = "tiktok"
TOKEN_HEADER = "Access-Token"

# Sync lookback (DESIGN.md section 4): TikTok attributes conversions up to 28 days after the click.
LOOKBACK_DAYS = 28

# TikTok serves at most 1000 rows a page, and daily (stat_time_day) reports span at most 30 days a request.
PAGE_SIZE = 1000
MAX_DAYS_PER_REPORT = 30

ADVERTISER_FIELDS = ["advertiser_id", "name", "currency", "timezone", "display_timezone", "status"]

REPORT_TYPE = "BASIC"
DATA_LEVEL = "AUCTION_CAMPAIGN"
REPORT_DIMENSIONS = ["campaign_id", "stat_time_day"]
# complete_payment is the purchase count, total_complete_payment_rate (despite its name) the purchase value,
# conversion the count of the campaign's own optimisation event.
REPORT_METRICS = [
    "campaign_name",
    "spend",
    "impressions",
    "clicks",
    "reach",
    "frequency",
    "conversion",
    "complete_payment",
    "total_complete_payment_rate",
]
CONVERSION_VALUE_METRIC = "total_complete_payment_rate"
# stat_time_day is a local midnight of the advertiser's time zone: "2026-09-01 00:00:00".
STAT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

CAMPAIGN_FIELDS: dict[str, pl.DataType] = {
    "campaign_id": pl.String(),
    "campaign_name": pl.String(),
    "objective_type": pl.String(),
    "budget": pl.Float64(),
    "budget_mode": pl.String(),
    "operation_status": pl.String(),
    "secondary_status": pl.String(),
    "create_time": pl.String(),
    "modify_time": pl.String(),
}

# Business-API codes, all sent with HTTP 200. Throttles (40100 QPS/QPM/QPD, 40133) and system errors (50000)
# pass with time; a bad app, an empty token or a wrong, expired or revoked one (40101, 40104, 40105) do not.
THROTTLE_CODES = frozenset({40100, 40133})
SERVER_ERROR_CODES = frozenset({50000})
AUTH_ERROR_CODES = frozenset({40101, 40104, 40105})
