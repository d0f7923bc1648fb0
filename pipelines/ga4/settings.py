"""Constants of the GA4 connector: the report we ask for, page size, the OAuth scope and the sync lookback."""

from __future__ import annotations

import polars as pl

PLATFORM = "ga4"
DISPLAY_NAME = "Google Analytics 4"
ICON = "google-analytics"
KIND = "analytics"
API_VERSION = "v1beta"
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
NEEDED_SCOPES = {SCOPE: "the property's traffic cannot be loaded"}
# The quotas of a report's propertyQuota read as the property's budget.
QUOTA_SHARES = ("tokensPerDay", "tokensPerHour")

# Sync lookback (DESIGN.md section 4): GA4 finishes processing a day within about 24 to 48 hours.
LOOKBACK_DAYS = 3

# Rows asked for per runReport request; GA4 serves at most 250,000 and may serve fewer than asked.
PAGE_SIZE = 100_000

# GA4 answers values positionally, in the order the request names dimensions and metrics. The keys are GA4's
# API names; the values the raw table's column names (dlt would snake-case them the same way).
REPORT_DIMENSIONS = {
    "date": "date_yyyymmdd",
    "sessionCampaignName": "session_campaign_name",
    "sessionSourceMedium": "session_source_medium",
}
# keyEvents replaced conversions in 2024; totalRevenue is in major units of the property's currency.
REPORT_METRICS = {"sessions": "sessions", "keyEvents": "key_events", "totalRevenue": "total_revenue"}
REPORT_DATE_FORMAT = "%Y%m%d"

# One GA4 row as JSON: each value an object {"value": "..."}; absent keys become nulls.
REPORT_ROW_SCHEMA: dict[str, pl.DataType] = {
    "dimensionValues": pl.List(pl.Struct({"value": pl.String()})),
    "metricValues": pl.List(pl.Struct({"value": pl.String()})),
}

# Google's error statuses that mean the credentials cannot read the property: wrong, expired or revoked token,
# or a token of a user or service account the property was not shared with.
AUTH_ERROR_STATUSES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
