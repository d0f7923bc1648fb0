"""Constants of the Meta Ads connector: the fields we ask for, page sizes, error codes and the sync lookback."""

from __future__ import annotations

import polars as pl

PLATFORM = "meta_ads"
DISPLAY_NAME = "Meta Ads"
ICON = "meta"

# Sync lookback (DESIGN.md section 4): Meta attributes conversions up to 28 days after the click.
LOOKBACK_DAYS = 28

# Rows per page we ask for; the Graph API's own default is 25.
PAGE_SIZE = 500

# The scopes Tally needs, and what cannot be loaded without each.
NEEDED_SCOPES = {"ads_read": "campaign insights and campaigns cannot be loaded"}
# The shares of a business use case's budget that X-Business-Use-Case-Usage reports, in percent.
USAGE_SHARES = ("call_count", "total_cputime", "total_time")

ACCOUNT_FIELDS = ["id", "account_id", "name", "currency", "timezone_name", "account_status"]
GRANTED = "granted"

INSIGHTS_LEVEL = "campaign"
# date_start and date_stop come with every insights row; naming them keeps the request explicit.
INSIGHT_FIELDS: dict[str, pl.DataType] = {
    "campaign_id": pl.String(),
    "campaign_name": pl.String(),
    "spend": pl.String(),
    "impressions": pl.String(),
    "clicks": pl.String(),
    "reach": pl.String(),
    "frequency": pl.String(),
    "actions": pl.List(pl.Struct({"action_type": pl.String(), "value": pl.String()})),
    "action_values": pl.List(pl.Struct({"action_type": pl.String(), "value": pl.String()})),
    "account_currency": pl.String(),
    "date_start": pl.String(),
    "date_stop": pl.String(),
}

# Budgets are strings in the currency's minor units and absent when the budget lives on the ad sets.
CAMPAIGN_FIELDS: dict[str, pl.DataType] = {
    "id": pl.String(),
    "name": pl.String(),
    "status": pl.String(),
    "effective_status": pl.String(),
    "objective": pl.String(),
    "daily_budget": pl.String(),
    "lifetime_budget": pl.String(),
    "start_time": pl.String(),
    "stop_time": pl.String(),
    "created_time": pl.String(),
    "updated_time": pl.String(),
}

# Graph API error codes. 190 is an invalid, expired (subcode 463) or invalidated (460) token, 102 an invalid
# session, 104 a missing token; 10 and 200-299 a token without the permission the call needs. Throttles pass
# with time and may come with HTTP 400 or 403, not only 429: 4 (app), 17 (user), 32 (page), 613 (calls per
# ad account) and 80000-80014 (business use case; 80004 is ads insights). 1 and 2 are Meta's own transient
# failures ("retry your request later").
AUTH_ERROR_CODES = frozenset({102, 104, 190, 10, *range(200, 300)})
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
