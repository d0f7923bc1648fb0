"""Constants of the Shopify connector: the order fields we pull, page size, scopes and the sync lookback."""

from __future__ import annotations

import polars as pl

PLATFORM = "shopify"
DISPLAY_NAME = "Shopify"
TOKEN_HEADER = "X-Shopify-Access-Token"

# Sync lookback (DESIGN.md section 4): orders are edited or refunded for a while after they are placed.
LOOKBACK_DAYS = 7

# orders.json serves at most 250 orders a page.
PAGE_SIZE = 250

# Without this scope Shopify shows only the orders created in the last 60 days.
FULL_HISTORY_SCOPE = "read_all_orders"
RECENT_ORDERS_DAYS = 60
# The scopes Tally needs, and what cannot be loaded without each.
NEEDED_SCOPES = {
    "read_orders": "orders cannot be loaded",
    FULL_HISTORY_SCOPE: f"orders older than {RECENT_ORDERS_DAYS} days cannot be loaded",
}
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
# The REST bucket leaks this many calls a second on a standard plan: a nearly full bucket is waited on until it
# is back at the nearly-full line.
LEAK_PER_SECOND = 2.0

# The order fields asked for (``fields=``), typed as Shopify sends them: money as decimal strings, ids as
# integers, timestamps as ISO strings with the shop's UTC offset. Absent keys load as nulls.
ORDER_FIELDS: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "admin_graphql_api_id": pl.String(),
    "name": pl.String(),
    "created_at": pl.String(),
    "processed_at": pl.String(),
    "updated_at": pl.String(),
    "cancelled_at": pl.String(),
    "cancel_reason": pl.String(),
    "closed_at": pl.String(),
    "currency": pl.String(),
    "presentment_currency": pl.String(),
    "total_price": pl.String(),
    "current_total_price": pl.String(),
    "subtotal_price": pl.String(),
    "total_tax": pl.String(),
    "total_discounts": pl.String(),
    "financial_status": pl.String(),
    "test": pl.Boolean(),
    "source_name": pl.String(),
    "landing_site": pl.String(),
    "referring_site": pl.String(),
}

# Revenue is summed exactly; three decimals keep the currencies with a minor unit of 1/1000 (KWD, BHD).
REVENUE_TYPE = pl.Decimal(38, 3)
