"""Shopify's own count and total of a store's orders over a range of local days, for the reconciliation check
that compares them with the daily sales Tally loaded.

The Admin REST API has no aggregate that leaves out test orders (``orders/count.json`` counts them), so the
count and total are taken from the store's order list for the whole range at once, with the same rules as the
daily sales (neither test nor cancelled, ``total_price``): what this checks is that the days Tally cut the
orders into add up to the store's orders of the range.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipelines.shopify.client import local_day_bounds, order_pages, read_store, shopify_http, store_client
from pipelines.shopify.credentials import ShopifyCredentials
from tally.settings import Settings

PAGE_SIZE = 250


def account_totals(credentials: ShopifyCredentials, start: date, end: date, settings: Settings) -> dict[str, Decimal]:
    """The store's orders and revenue over the local days, test and cancelled orders left out."""
    http = shopify_http(settings)
    client = store_client(http, credentials)
    store = read_store(http, client, credentials)
    created_min, created_max = local_day_bounds(start, end, store.timezone)
    totals = {"orders": Decimal(0), "revenue": Decimal(0)}
    for page in order_pages(http, client, created_min, created_max, PAGE_SIZE):
        for order in page:
            if order.get("test") or order.get("cancelled_at"):
                continue
            totals["orders"] += 1
            totals["revenue"] += Decimal(order.get("total_price") or "0")
    return totals
