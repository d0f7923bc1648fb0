"""Shopify's raw tables: ``orders`` as the Admin API sends them, and ``daily_sales`` and ``coverage`` derived from them.

- ``orders``: one row per order created in the range, raw fields kept as Shopify sends them (money as decimal
  strings in the shop currency, ``id`` an integer, ``created_at`` and the other timestamps as ISO strings with the
  shop's UTC offset, ``test`` a boolean); conversions to our units happen later, in the SQL staging models.
- ``daily_sales``: per shop-local day, ``orders_count`` and ``revenue`` (the exact decimal sum of ``total_price``)
  of the orders that are neither test nor cancelled, computed with polars from the orders of this pull. Every day of
  the range that Shopify let us see gets a row, and a day without such an order gets ``0`` and ``0.000``: a merge
  replaces only the days a load brings, so a day whose orders were all cancelled since must come back as zeros.
- ``coverage``: one row per day of the range: ``orders_visible`` says whether its orders could be read, and
  ``missing_scope`` why not. A token without ``read_all_orders`` sees only the last 60 days of orders; days before
  that horizon (the day it falls on included, being partly hidden) are not requested, get no ``orders`` or
  ``daily_sales`` rows, are marked here, and a warning names them in the log.

Every row carries ``company_id``, ``account_id`` (the store handle), ``date`` (the shop-local day of ``created_at``,
which is kept raw too), ``currency`` and ``account_timezone`` (the shop's ``iana_timezone``), read from ``shop.json``
at the start of the load. Metrics tables merge delete-insert on (company_id, date).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import dlt
import polars as pl
import pyarrow as pa
from dlt.sources import DltResource

from pipelines.base import date_range_params
from pipelines.budget import Budget
from pipelines.loading import DAILY_SLICE_KEY, REPLACE_DAYS, keyed_arrow
from pipelines.shopify.client import Store, local_day_bounds, order_pages, read_store, shopify_http, store_client
from pipelines.shopify.credentials import ShopifyCredentials
from pipelines.shopify.settings import (
    FULL_HISTORY_SCOPE,
    ORDER_FIELDS,
    PAGE_SIZE,
    RECENT_ORDERS_DAYS,
    REVENUE_TYPE,
)
from tally.settings import Settings

log = logging.getLogger(__name__)

SHOPIFY_TIMESTAMP = "%Y-%m-%dT%H:%M:%S%#z"


class StoreOrders:
    """One store's orders over a range of local days: read once, on first use inside the load, for every resource.

    Nothing is fetched when the source is built, so a refused token fails the load (where the caller handles it),
    not the construction of the source.
    """

    def __init__(
        self,
        credentials: ShopifyCredentials,
        start_date: date,
        end_date: date,
        company_id: str,
        settings: Settings,
        budget: Budget | None = None,
    ) -> None:
        date_range_params(start_date, end_date)
        self.start_date, self.end_date, self.company_id = start_date, end_date, company_id
        self._credentials = credentials
        self._http = shopify_http(settings, budget)
        self._client = store_client(self._http, credentials)

    @cached_property
    def store(self) -> Store:
        """The store's currency, time zone and the token's scopes."""
        return read_store(self._http, self._client, self._credentials)

    @cached_property
    def first_visible_day(self) -> date:
        """The first day whose orders the token can all see; later than the range's end when it sees none."""
        if FULL_HISTORY_SCOPE in self.store.scopes:
            return self.start_date
        horizon = datetime.now(UTC) - timedelta(days=RECENT_ORDERS_DAYS)
        first = max(self.start_date, horizon.astimezone(ZoneInfo(self.store.timezone)).date() + timedelta(days=1))
        if first > self.start_date:
            hidden_last = min(first - timedelta(days=1), self.end_date)
            log.warning(
                "shopify orders not loaded: account_id=%s missing_scope=%s days=%d first=%s last=%s "
                "reason=orders older than %d days need %s",
                self.store.account_id,
                FULL_HISTORY_SCOPE,
                (hidden_last - self.start_date).days + 1,
                self.start_date,
                hidden_last,
                RECENT_ORDERS_DAYS,
                FULL_HISTORY_SCOPE,
            )
        return first

    @cached_property
    def pages(self) -> list[pl.DataFrame]:
        """The visible days' orders, one frame per API page, with our columns added."""
        if self.first_visible_day > self.end_date:
            return []
        low, high = local_day_bounds(self.first_visible_day, self.end_date, self.store.timezone)
        return [self.order_frame(page) for page in order_pages(self._http, self._client, low, high, PAGE_SIZE)]

    def order_frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        """Orders as typed columns (absent keys become nulls) plus the shop-local date and the account columns."""
        created_at = pl.col("created_at").str.to_datetime(SHOPIFY_TIMESTAMP, time_zone="UTC")
        return pl.from_dicts(rows, schema=ORDER_FIELDS).with_columns(
            date=created_at.dt.convert_time_zone(self.store.timezone).dt.date(),
            company_id=pl.lit(self.company_id),
            account_id=pl.lit(self.store.account_id),
            account_timezone=pl.lit(self.store.timezone),
        )

    def days(self, first: date) -> pl.DataFrame:
        """One row per day from ``first`` to the end of the range, with the account columns."""
        return pl.DataFrame({"date": pl.date_range(first, self.end_date, "1d", eager=True)}).select(
            company_id=pl.lit(self.company_id),
            account_id=pl.lit(self.store.account_id),
            date=pl.col("date"),
            currency=pl.lit(self.store.currency),
            account_timezone=pl.lit(self.store.timezone),
        )


def daily_sales_frame(orders: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    """Orders count and revenue per day of ``days``, leaving out test and cancelled orders; zeros on a quiet day."""
    counted = orders.filter(pl.col("test").not_().fill_null(True) & pl.col("cancelled_at").is_null())
    per_day = counted.group_by("date").agg(
        orders_count=pl.len().cast(pl.Int64),
        revenue=pl.col("total_price").cast(REVENUE_TYPE).sum(),
    )
    return days.join(per_day, on="date", how="left").with_columns(
        orders_count=pl.col("orders_count").fill_null(0),
        revenue=pl.col("revenue").fill_null(0).cast(REVENUE_TYPE),
    )


@dlt.resource(
    name="orders", write_disposition=REPLACE_DAYS, merge_key=DAILY_SLICE_KEY, primary_key=("company_id", "id")
)
def orders(store_orders: StoreOrders) -> Iterator[pa.Table]:
    """Raw orders, one row per order, dated by the shop-local day they were created."""
    for page in store_orders.pages:
        if page.height:
            yield keyed_arrow(page, (*DAILY_SLICE_KEY, "id"))


@dlt.resource(
    name="daily_sales", write_disposition=REPLACE_DAYS, merge_key=DAILY_SLICE_KEY, primary_key=DAILY_SLICE_KEY
)
def daily_sales(store_orders: StoreOrders) -> Iterator[pa.Table]:
    """Orders and revenue per visible shop-local day, test and cancelled orders excluded."""
    if store_orders.first_visible_day > store_orders.end_date:
        return
    pages = store_orders.pages or [store_orders.order_frame([])]
    sales = daily_sales_frame(pl.concat(pages), store_orders.days(store_orders.first_visible_day))
    yield keyed_arrow(sales, DAILY_SLICE_KEY)


@dlt.resource(name="coverage", write_disposition=REPLACE_DAYS, merge_key=DAILY_SLICE_KEY, primary_key=DAILY_SLICE_KEY)
def coverage(store_orders: StoreOrders) -> Iterator[pa.Table]:
    """Whether each day's orders could be read, and the missing scope when not."""
    visible = pl.col("date") >= store_orders.first_visible_day
    days = store_orders.days(store_orders.start_date).with_columns(
        orders_visible=visible,
        missing_scope=pl.when(visible).then(None).otherwise(pl.lit(FULL_HISTORY_SCOPE)),
    )
    yield keyed_arrow(days, DAILY_SLICE_KEY)


@dlt.source(name="shopify", max_table_nesting=0)
def source(
    credentials: ShopifyCredentials,
    start_date: date,
    end_date: date,
    company_id: str,
    settings: Settings,
    budget: Budget | None = None,
) -> tuple[DltResource, ...]:
    """A store's orders for the shop-local days start_date..end_date, and the daily sales computed from them.

    The credentials are passed in, never resolved from dlt config, and only the request's auth reads the token.
    """
    store_orders = StoreOrders(credentials, start_date, end_date, company_id, settings, budget)
    return orders(store_orders), daily_sales(store_orders), coverage(store_orders)
