"""Shopify: a store's orders and daily sales, read from the Admin REST API by the store's local day.

- ``credentials.ShopifyCredentials``: the store's myshopify.com address and an Admin API access token
- ``client.test_connection``: ``shop.json`` and the token's scopes
- ``source.source``: the ``orders``, ``daily_sales`` and ``coverage`` tables
"""

from __future__ import annotations

from pipelines.base import PlatformSpec, RawTable
from pipelines.shopify.client import test_connection
from pipelines.shopify.credentials import ShopifyCredentials
from pipelines.shopify.settings import DISPLAY_NAME, LOOKBACK_DAYS, NEEDED_SCOPES, PLATFORM
from pipelines.shopify.source import source

SPEC = PlatformSpec(
    id=PLATFORM,
    display_name=DISPLAY_NAME,
    icon="shopify",
    help_text="Orders and revenue of one Shopify store, from a custom app's Admin API access token "
    "(read_orders; read_all_orders for orders older than 60 days).",
    credentials_model=ShopifyCredentials,
    test_connection=test_connection,
    source=source,
    kind="commerce",
    lookback_days=LOOKBACK_DAYS,
    needed_scopes=NEEDED_SCOPES,
    raw_tables=(
        RawTable("orders", "Shopify orders as the Admin API sends them, with the shop's local date."),
        RawTable(
            "daily_sales", "Shopify orders and revenue per local day (zeros included), test and cancelled excluded."
        ),
        RawTable("coverage", "Shopify: per requested day, whether the token could read that day's orders."),
    ),
)

__all__ = ["SPEC", "ShopifyCredentials", "source", "test_connection"]
