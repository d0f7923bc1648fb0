"""GA4 raw table: ``traffic_daily`` from the Data API's ``runReport``.

- ``traffic_daily``: one row per property-local day x ``sessionCampaignName`` x ``sessionSourceMedium`` that the
  report returns (GA4 drops rows whose metrics are all zero). Raw values are kept as GA4 sends them, strings:
  ``date_yyyymmdd`` (GA4's ``date`` dimension, ``"20260901"``), ``session_campaign_name`` (a UTM campaign, or
  GA4's ``"(direct)"``, ``"(organic)"``, ``"(referral)"``, ``"(not set)"``), ``session_source_medium``
  (``"google / cpc"``, ``"(direct) / (none)"``), ``sessions`` (``"123"``), ``key_events`` (``"4"``; GA4's
  ``keyEvents``, which replaced ``conversions``, a float metric) and ``total_revenue`` (``"456.7"``, major units
  of the property's currency). ``date`` is the ISO day of ``date_yyyymmdd``, the merge key.

Every row carries ``company_id``, ``account_id`` (the property id), ``currency`` and ``account_timezone``, read from
the Admin API's property at the start of the load. Conversions to our units (strings to numbers) happen later,
in the SQL staging models.
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

from pipelines.base import date_range_params
from pipelines.budget import Budget
from pipelines.ga4.client import (
    Property,
    access_token,
    admin_client,
    data_client,
    ga4_http,
    read_property,
    report_pages,
)
from pipelines.ga4.credentials import GA4Credentials
from pipelines.ga4.settings import (
    PAGE_SIZE,
    REPORT_DATE_FORMAT,
    REPORT_DIMENSIONS,
    REPORT_METRICS,
    REPORT_ROW_SCHEMA,
)
from pipelines.google_oauth import AccessToken
from pipelines.loading import DAILY_SLICE_KEY, REPLACE_DAYS, account_columns, keyed_arrow
from tally.settings import Settings

TRAFFIC_KEY = ("company_id", "date", "session_campaign_name", "session_source_medium")


class PropertyReport:
    """One property's traffic over a range of local days. The token and the property are fetched inside the
    load, so refused credentials fail the load (where the caller handles it), not building the source.
    """

    def __init__(
        self,
        credentials: GA4Credentials,
        start_date: date,
        end_date: date,
        company_id: str,
        settings: Settings,
        budget: Budget | None = None,
    ) -> None:
        date_range_params(start_date, end_date)
        self.start_date, self.end_date, self.company_id = start_date, end_date, company_id
        self.credentials = credentials
        self.property_id = credentials.property_id
        self.http = ga4_http(settings, budget)

    @cached_property
    def token(self) -> AccessToken:
        """One access token for the whole load (Google's last an hour)."""
        return access_token(self.http, self.credentials)

    def admin_property(self) -> Property:
        """The property's currency and time zone, from the Admin API."""
        return read_property(self.http, admin_client(self.http, self.token), self.property_id)

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every report row of the range, page by page."""
        client = data_client(self.http, self.token)
        yield from report_pages(self.http, client, self.property_id, self.start_date, self.end_date, PAGE_SIZE)

    def traffic_frame(self, rows: list[dict[str, Any]], found: Property) -> pl.DataFrame:
        """Report rows as raw string columns named after their header, the ISO ``date`` and the property's."""
        report = pl.from_dicts(rows, schema=REPORT_ROW_SCHEMA, strict=False)
        values = [
            pl.col(kind).list.get(index, null_on_oob=True).struct.field("value").alias(column)
            for kind, names in (("dimensionValues", REPORT_DIMENSIONS), ("metricValues", REPORT_METRICS))
            for index, column in enumerate(names.values())
        ]
        raw = report.select(values)
        return raw.select(
            *account_columns(self.company_id, self.property_id, found.currency, found.timezone),
            pl.col("date_yyyymmdd").str.to_date(REPORT_DATE_FORMAT).alias("date"),
            pl.all(),
        )


@dlt.resource(name="traffic_daily", write_disposition=REPLACE_DAYS, merge_key=DAILY_SLICE_KEY, primary_key=TRAFFIC_KEY)
def traffic_daily(report: PropertyReport) -> Iterator[pa.Table]:
    """Raw daily sessions, key events and revenue per session campaign and source/medium."""
    found = report.admin_property()
    for page in report.pages():
        if page:
            yield keyed_arrow(report.traffic_frame(page, found), TRAFFIC_KEY)


@dlt.source(name="ga4", max_table_nesting=0)
def source(
    credentials: GA4Credentials,
    start_date: date,
    end_date: date,
    company_id: str,
    settings: Settings,
    budget: Budget | None = None,
) -> DltResource:
    """A property's daily traffic per session campaign and source/medium for the local days start..end.

    The credentials are passed in, never resolved from dlt config, and only the token request and the request's
    auth read the secrets.
    """
    return traffic_daily(PropertyReport(credentials, start_date, end_date, company_id, settings, budget))
