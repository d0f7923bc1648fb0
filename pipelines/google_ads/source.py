"""Google Ads raw tables: ``campaign_daily`` and ``campaigns``, each one GAQL query over ``googleAds:search``.

- ``campaign_daily``: one row per campaign per customer-local day that ``FROM campaign`` segmented by
  ``segments.date`` returns (Google leaves out rows whose selected metrics are all zero, so days without
  delivery have no row). Columns are the GAQL field names with dots as underscores, values as the REST API sends
  them: ``segments_date`` (``"2026-09-01"``), ``campaign_id``, ``campaign_name``, ``campaign_status``,
  ``campaign_advertising_channel_type``, ``campaign_budget_amount_micros`` and the int64 metrics
  ``metrics_cost_micros``, ``metrics_impressions``, ``metrics_clicks`` as strings (money in micros of the
  account currency), the doubles ``metrics_conversions`` and ``metrics_conversions_value`` as numbers (the
  value in major units). Google's JSON leaves out zero values, so a null metric is a zero. ``date`` is the day of
  ``segments_date``, the merge key.
- ``campaigns``: one row per campaign of the customer: ``campaign_id``, ``campaign_name``, ``campaign_status``
  (ENABLED, PAUSED, REMOVED), ``campaign_advertising_channel_type``, and the budget in micros as strings:
  ``campaign_budget_amount_micros`` (per day when ``campaign_budget_period`` is DAILY) or
  ``campaign_budget_total_amount_micros`` (CUSTOM_PERIOD).

Every row carries ``company_id``, ``account_id`` (the customer id), ``currency`` and ``account_timezone``, read
from the ``customer`` resource at the start of the load. Conversions to our units (strings to numbers, micros to
major units, nulls to zeros) happen later, in the SQL staging models.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cached_property
from typing import Any

import dlt
import polars as pl
import pyarrow as pa
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient

from pipelines.base import date_range_params
from pipelines.budget import Budget
from pipelines.google_ads.client import (
    Customer,
    access_token,
    api_client,
    between,
    gaql,
    google_ads_http,
    read_customer,
    search_pages,
)
from pipelines.google_ads.credentials import GoogleAdsCredentials
from pipelines.google_ads.settings import CAMPAIGN_DAILY_FIELDS, CAMPAIGN_FIELDS
from pipelines.loading import DAILY_SLICE_KEY, REPLACE_DAYS, account_columns, keyed_arrow
from tally.settings import Settings

CAMPAIGN_DAY_KEY = ("company_id", "campaign_id", "date")
CAMPAIGN_KEY = ("company_id", "campaign_id")


def camel(name: str) -> str:
    """A GAQL name as the REST JSON spells it: ``cost_micros`` is ``costMicros``."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def row_schema(fields: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """The nested shape of a result row (``{"campaign": {"id": ...}, "metrics": {...}}``) for ``from_dicts``."""
    resources: dict[str, dict[str, pl.DataType]] = {}
    for name, dtype in fields.items():
        resource, field = name.split(".")
        resources.setdefault(camel(resource), {})[camel(field)] = dtype
    return {resource: pl.Struct(members) for resource, members in resources.items()}


def flat_columns(fields: dict[str, pl.DataType]) -> list[pl.Expr]:
    """Each GAQL field of a nested row as a column named after it (``metrics.cost_micros``: ``metrics_cost_micros``)."""
    columns = []
    for name in fields:
        resource, field = name.split(".")
        columns.append(pl.col(camel(resource)).struct.field(camel(field)).alias(name.replace(".", "_")))
    return columns


def result_frame(rows: list[dict[str, Any]], fields: dict[str, pl.DataType]) -> pl.DataFrame:
    """Result rows as flat typed columns; a value Google left out (a zero, an unset budget) becomes null."""
    return pl.from_dicts(rows, schema=row_schema(fields), strict=False).select(flat_columns(fields))


class CustomerReport:
    """One customer's campaigns over a range of local days. The token and the customer are fetched once, on
    first use inside the load, so refused credentials fail the load (where the caller handles it), not the
    building of the source.
    """

    def __init__(
        self,
        credentials: GoogleAdsCredentials,
        start_date: date,
        end_date: date,
        company_id: str,
        settings: Settings,
        budget: Budget | None = None,
    ) -> None:
        date_range_params(start_date, end_date)
        self.window, self.company_id = (start_date, end_date), company_id
        self.credentials = credentials
        self.http = google_ads_http(settings, credentials, budget)

    @cached_property
    def client(self) -> RESTClient:
        """A client carrying a fresh access token."""
        return api_client(self.http, self.credentials, access_token(self.http, self.credentials))

    @cached_property
    def customer(self) -> Customer:
        """The customer's currency and time zone."""
        return read_customer(self.http, self.client, self.credentials.customer_id)

    def pages(self, query: str) -> Iterator[list[dict[str, Any]]]:
        """Every result row of the query on this customer, page by page."""
        yield from search_pages(self.http, self.client, self.credentials.customer_id, query)

    def daily_frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        """Campaign-day rows as raw columns, the local day as ``date`` and our columns."""
        frame = result_frame(rows, CAMPAIGN_DAILY_FIELDS)
        return self.with_account(frame.select(pl.col("segments_date").str.to_date().alias("date"), pl.all()))

    def campaign_frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        """Campaign rows as raw columns and our columns."""
        return self.with_account(result_frame(rows, CAMPAIGN_FIELDS))

    def with_account(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The frame behind the company and customer columns every row carries."""
        return frame.select(
            *account_columns(
                self.company_id, self.credentials.customer_id, self.customer.currency, self.customer.timezone
            ),
            pl.all(),
        )


@dlt.resource(
    name="campaign_daily", write_disposition=REPLACE_DAYS, merge_key=DAILY_SLICE_KEY, primary_key=CAMPAIGN_DAY_KEY
)
def campaign_daily(report: CustomerReport) -> Iterator[pa.Table]:
    """Raw daily campaign metrics, one row per campaign per customer-local day with delivery."""
    query = gaql(list(CAMPAIGN_DAILY_FIELDS), "campaign", between(*report.window))
    for page in report.pages(query):
        if page:
            yield keyed_arrow(report.daily_frame(page), CAMPAIGN_DAY_KEY)


@dlt.resource(name="campaigns", write_disposition=REPLACE_DAYS, merge_key="company_id", primary_key=CAMPAIGN_KEY)
def campaigns(report: CustomerReport) -> Iterator[pa.Table]:
    """Raw campaign metadata: name, status, channel type, budget in micros."""
    for page in report.pages(gaql(list(CAMPAIGN_FIELDS), "campaign")):
        if page:
            yield keyed_arrow(report.campaign_frame(page), CAMPAIGN_KEY)


@dlt.source(name="google_ads", max_table_nesting=0)
def source(
    credentials: GoogleAdsCredentials,
    start_date: date,
    end_date: date,
    company_id: str,
    settings: Settings,
    budget: Budget | None = None,
) -> tuple[DltResource, ...]:
    """A customer's daily campaign metrics for the local days start_date..end_date, and its campaigns.

    The credentials are passed in, never resolved from dlt config, and only the request's auth reads the secrets.
    """
    report = CustomerReport(credentials, start_date, end_date, company_id, settings, budget)
    return campaign_daily(report), campaigns(report)
