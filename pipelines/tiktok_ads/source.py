"""TikTok Ads raw tables: ``campaign_daily`` from the integrated report and ``campaigns`` from ``campaign/get/``.

- ``campaign_daily``: one row per campaign per advertiser-local day that the BASIC, AUCTION_CAMPAIGN report
  returns, read in windows of at most 30 days. Raw fields are kept as TikTok sends them: ``campaign_id`` and
  ``stat_time_day`` (``"2026-09-01 00:00:00"``, a local midnight) are strings, and so is every metric
  (``spend`` ``"12.34"`` in the advertiser currency's major units, ``impressions`` ``"1000"``, ...).
  ``date`` is the local day of ``stat_time_day``, the merge key. Chosen from the metrics and kept raw-typed
  (strings): ``conversions`` is the metric named by ``settings.tiktok_ads_conversion_metric`` (default
  ``complete_payment``, the purchase count; ``conversion`` counts the campaign's optimisation event), named in
  ``conversion_metric``; ``conversion_value`` is ``total_complete_payment_rate``, the purchase value despite its
  name. ``metrics_json`` keeps the whole metrics object as JSON text.
- ``campaigns``: one row per campaign: ``budget`` a JSON number in major units (TikTok's budgets are not in
  minor units), ``budget_mode``, ``operation_status``, ``objective_type`` and the other fields as sent.

Every row carries ``company_id``, ``account_id`` (the advertiser id), ``currency`` and ``account_timezone``, read
from ``advertiser/info/`` at the start of the load; ``campaign_daily`` rows carry ``date`` too. Conversions to our
units (strings to numbers) happen later, in the SQL staging models.
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
from pipelines.loading import DAILY_SLICE_KEY, REPLACE_DAYS, account_columns, keyed_arrow
from pipelines.tiktok_ads.client import (
    Advertiser,
    api_client,
    campaign_pages,
    read_advertiser,
    report_pages,
    report_windows,
    tiktok_http,
)
from pipelines.tiktok_ads.credentials import TikTokAdsCredentials
from pipelines.tiktok_ads.settings import (
    CAMPAIGN_FIELDS,
    CONVERSION_VALUE_METRIC,
    PAGE_SIZE,
    REPORT_DIMENSIONS,
    REPORT_METRICS,
    STAT_TIME_FORMAT,
)
from tally.settings import Settings

CAMPAIGN_DAY_KEY = ("company_id", "campaign_id", "date")
CAMPAIGN_KEY = ("company_id", "campaign_id")


class AdvertiserReport:
    """One advertiser's report over a range of local days. The advertiser is read once, on first use inside
    the load, so a refused token fails the load (where the caller handles it), not the building of the source.
    """

    def __init__(
        self,
        credentials: TikTokAdsCredentials,
        start_date: date,
        end_date: date,
        company_id: str,
        settings: Settings,
        budget: Budget | None = None,
    ) -> None:
        date_range_params(start_date, end_date)
        self.start_date, self.end_date, self.company_id = start_date, end_date, company_id
        self.advertiser_id = credentials.advertiser_id
        self.conversion_metric = settings.tiktok_ads_conversion_metric
        self.http = tiktok_http(settings, budget)
        self.client = api_client(self.http, credentials)

    @cached_property
    def advertiser(self) -> Advertiser:
        """The advertiser's currency and time zone."""
        return read_advertiser(self.http, self.client, self.advertiser_id)

    @property
    def metrics(self) -> list[str]:
        """The report's metrics: ours, plus the configured conversion metric when it is another one."""
        return list(dict.fromkeys([*REPORT_METRICS, self.conversion_metric]))

    def daily_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every report row of the range, one 30-day window (one paginated request) after another."""
        for window in report_windows(self.start_date, self.end_date):
            yield from report_pages(self.http, self.client, self.advertiser_id, window, self.metrics, PAGE_SIZE)

    def daily_frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        """Report rows as string columns (absent keys become nulls), the chosen metrics and our columns."""
        schema = {
            "dimensions": pl.Struct({name: pl.String() for name in REPORT_DIMENSIONS}),
            "metrics": pl.Struct({name: pl.String() for name in self.metrics}),
        }
        report = pl.from_dicts(rows, schema=schema, strict=False)
        stat_time_day = pl.col("dimensions").struct.field("stat_time_day")
        return self.with_account(
            report.select(
                date=stat_time_day.str.to_datetime(STAT_TIME_FORMAT).dt.date(),
                dimensions=pl.col("dimensions"),
                metrics=pl.col("metrics"),
                conversion_metric=pl.lit(self.conversion_metric),
                conversions=pl.col("metrics").struct.field(self.conversion_metric),
                conversion_value=pl.col("metrics").struct.field(CONVERSION_VALUE_METRIC),
                metrics_json=pl.col("metrics").struct.json_encode(),
            ).unnest("dimensions", "metrics")
        )

    def campaign_frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        """Campaigns as typed columns (absent keys become nulls) and our columns."""
        return self.with_account(pl.from_dicts(rows, schema=CAMPAIGN_FIELDS, strict=False))

    def with_account(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The frame behind the company and advertiser columns every row carries."""
        return frame.select(
            *account_columns(self.company_id, self.advertiser_id, self.advertiser.currency, self.advertiser.timezone),
            pl.all(),
        )


@dlt.resource(
    name="campaign_daily", write_disposition=REPLACE_DAYS, merge_key=DAILY_SLICE_KEY, primary_key=CAMPAIGN_DAY_KEY
)
def campaign_daily(report: AdvertiserReport) -> Iterator[pa.Table]:
    """Raw daily campaign metrics, one row per campaign per advertiser-local day."""
    for page in report.daily_pages():
        if page:
            yield keyed_arrow(report.daily_frame(page), CAMPAIGN_DAY_KEY)


@dlt.resource(name="campaigns", write_disposition=REPLACE_DAYS, merge_key="company_id", primary_key=CAMPAIGN_KEY)
def campaigns(report: AdvertiserReport) -> Iterator[pa.Table]:
    """Raw campaign metadata: name, objective, budget and status."""
    for page in campaign_pages(report.http, report.client, report.advertiser_id, PAGE_SIZE):
        if page:
            yield keyed_arrow(report.campaign_frame(page), CAMPAIGN_KEY)


@dlt.source(name="tiktok_ads", max_table_nesting=0)
def source(
    credentials: TikTokAdsCredentials,
    start_date: date,
    end_date: date,
    company_id: str,
    settings: Settings,
    budget: Budget | None = None,
) -> tuple[DltResource, ...]:
    """An advertiser's daily campaign metrics for the local days start_date..end_date, and its campaigns.

    The credentials are passed in, never resolved from dlt config, and only the request's auth reads the token.
    """
    report = AdvertiserReport(credentials, start_date, end_date, company_id, settings, budget)
    return campaign_daily(report), campaigns(report)
