"""Constants of the Google Ads connector: the GAQL we send, the fields we read, error kinds and the lookback."""

from __future__ import annotations

import polars as pl

PLATFORM = "google_ads"
DISPLAY_NAME = "Google Ads"
ICON = "google-ads"
# The one OAuth scope the Google Ads API accepts; the refresh grant asks for it alone.
SCOPE = "https://www.googleapis.com/auth/adwords"
NEEDED_SCOPES = {SCOPE: "campaign metrics cannot be loaded"}

# Sync lookback (DESIGN.md section 4): conversions are credited to the click's day and restated for as long as
# the conversion action's window (up to 90 days); 30 covers the default window.
LOOKBACK_DAYS = 30

# googleAds:search serves fixed pages of 10,000 rows; the request must not carry pageSize (PAGE_SIZE_NOT_SUPPORTED
# since v17), so there is no page size of ours to set.
SEARCH_PATH = "customers/{customer_id}/googleAds:search"

CUSTOMER_FIELDS: dict[str, pl.DataType] = {
    "customer.id": pl.String(),
    "customer.descriptive_name": pl.String(),
    "customer.currency_code": pl.String(),
    "customer.time_zone": pl.String(),
}

# REST JSON of a result row: camelCase keys, int64 as strings, doubles as numbers, zero values left out (proto3),
# so an absent metric is a zero. Columns are the GAQL field names with dots as underscores.
CAMPAIGN_DAILY_FIELDS: dict[str, pl.DataType] = {
    "segments.date": pl.String(),
    "campaign.id": pl.String(),
    "campaign.name": pl.String(),
    "campaign.status": pl.String(),
    "campaign.advertising_channel_type": pl.String(),
    "campaign_budget.amount_micros": pl.String(),
    "metrics.cost_micros": pl.String(),
    "metrics.impressions": pl.String(),
    "metrics.clicks": pl.String(),
    "metrics.conversions": pl.Float64(),
    "metrics.conversions_value": pl.Float64(),
}

# Budgets in micros of the account currency: amount_micros per day when period is DAILY; a campaign with a
# total budget (period CUSTOM_PERIOD) has total_amount_micros instead.
CAMPAIGN_FIELDS: dict[str, pl.DataType] = {
    "campaign.id": pl.String(),
    "campaign.name": pl.String(),
    "campaign.status": pl.String(),
    "campaign.advertising_channel_type": pl.String(),
    "campaign_budget.amount_micros": pl.String(),
    "campaign_budget.total_amount_micros": pl.String(),
    "campaign_budget.period": pl.String(),
}

# GoogleAdsFailure error code kinds that mean the credentials are wrong: the OAuth token, the developer token,
# the user's access to the customer, or the login-customer-id header.
AUTH_ERROR_KINDS = frozenset({"authenticationError", "authorizationError", "headerError"})
AUTH_REQUEST_ERRORS = frozenset({"DEVELOPER_TOKEN_PARAMETER_MISSING", "INVALID_CUSTOMER_ID"})
