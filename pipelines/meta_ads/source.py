"""Meta Ads raw tables: ``campaign_daily`` from the ad account's insights and ``campaigns`` from its campaigns.

- ``campaign_daily``: one row per campaign per ad-account-local day that ``/act_<id>/insights`` returns with
  ``level=campaign`` and ``time_increment=1`` (Meta leaves out campaign-days without delivery). Raw fields are
  kept as Meta sends them, strings all: ``spend`` (``"152.37"``, major units of the account currency),
  ``impressions``, ``clicks``, ``reach``, ``frequency``, ``account_currency``, ``date_start`` and ``date_stop``.
  ``date`` is the local day of ``date_start``, the merge key. ``actions_json`` and ``action_values_json`` keep
  the ``actions`` and ``action_values`` lists as JSON text (``action_type`` and ``value`` of each entry), null
  when Meta left the list out because nothing happened. Chosen from them and kept raw-typed (strings): Meta
  repeats one purchase under several action types (``purchase``, ``omni_purchase``,
  ``offsite_conversion.fb_pixel_purchase``), so ``conversions`` is the ``actions`` value of the ONE type named
  by ``settings.meta_ads_conversion_action_type`` (recorded in ``conversion_action_type``) and
  ``conversion_value`` the ``action_values`` value of that same type; both are null when the type is absent,
  which means zero.
- ``campaigns``: one row per campaign, Meta's ``id`` renamed ``campaign_id``; ``daily_budget`` and
  ``lifetime_budget`` are strings in the currency's minor units (``"5000"`` is 50.00 USD) and absent (null)
  when the budget lives on the ad sets; ``start_time``/``stop_time`` are Meta's ``2026-09-01T00:00:00-0700``.

Every row carries ``company_id``, ``account_id`` (the ad account's digits), ``currency`` and
``account_timezone``, read from the ad account node at the start of the load. Conversions to our units (strings
to numbers, minor units to major, nulls to zeros) happen later, in the SQL staging models.
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
from pipelines.meta_ads.client import AdAccount, api_client, campaign_pages, insights_pages, meta_http, read_account
from pipelines.meta_ads.credentials import MetaAdsCredentials
from pipelines.meta_ads.settings import CAMPAIGN_FIELDS, INSIGHT_FIELDS, PAGE_SIZE
from tally.settings import Settings

CAMPAIGN_DAY_KEY = ("company_id", "campaign_id", "date")
CAMPAIGN_KEY = ("company_id", "campaign_id")


def action_value(column: str, action_type: str) -> pl.Expr:
    """The ``value`` of the entry of one action type in a list of Meta actions; null when there is none."""
    entries = pl.element().filter(pl.element().struct.field("action_type") == action_type)
    return pl.col(column).list.eval(entries.struct.field("value")).list.first()


def json_text(column: str) -> pl.Expr:
    """A list column as JSON text, null where the list is (polars encodes structs only, so wrap and unwrap)."""
    return pl.struct(pl.col(column)).struct.json_encode().str.json_path_match(f"$.{column}")


class AdAccountReport:
    """One ad account's insights over a range of local days. The account is read once, on first use inside
    the load, so a refused token fails the load (where the caller handles it), not the building of the source.
    """

    def __init__(
        self,
        credentials: MetaAdsCredentials,
        start_date: date,
        end_date: date,
        company_id: str,
        settings: Settings,
        budget: Budget | None = None,
    ) -> None:
        date_range_params(start_date, end_date)
        self.window, self.company_id = (start_date, end_date), company_id
        self.credentials = credentials
        self.conversion_action_type = settings.meta_ads_conversion_action_type
        self.http = meta_http(settings, credentials, budget)
        self.client = api_client(self.http, credentials)

    @cached_property
    def account(self) -> AdAccount:
        """The ad account's currency and time zone."""
        return read_account(self.http, self.client, self.credentials)

    def daily_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every insights row of the range, page by page."""
        yield from insights_pages(self.http, self.client, self.credentials.account_node, self.window, PAGE_SIZE)

    def campaign_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every campaign of the account, page by page."""
        yield from campaign_pages(self.http, self.client, self.credentials.account_node, PAGE_SIZE)

    def daily_frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        """Insights rows as typed columns (absent keys become nulls), the chosen action type and our columns."""
        insights = pl.from_dicts(rows, schema=INSIGHT_FIELDS, strict=False)
        chosen = self.conversion_action_type
        return self.with_account(
            insights.select(
                pl.col("date_start").str.to_date().alias("date"),
                pl.all().exclude("actions", "action_values"),
                pl.lit(chosen).alias("conversion_action_type"),
                action_value("actions", chosen).alias("conversions"),
                action_value("action_values", chosen).alias("conversion_value"),
                json_text("actions").alias("actions_json"),
                json_text("action_values").alias("action_values_json"),
            )
        )

    def campaign_frame(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        """Campaigns as typed columns (absent keys become nulls) and our columns."""
        campaigns = pl.from_dicts(rows, schema=CAMPAIGN_FIELDS, strict=False)
        return self.with_account(campaigns.rename({"id": "campaign_id"}))

    def with_account(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The frame behind the company and ad account columns every row carries."""
        return frame.select(
            *account_columns(
                self.company_id, self.credentials.ad_account_id, self.account.currency, self.account.timezone
            ),
            pl.all(),
        )


@dlt.resource(
    name="campaign_daily", write_disposition=REPLACE_DAYS, merge_key=DAILY_SLICE_KEY, primary_key=CAMPAIGN_DAY_KEY
)
def campaign_daily(report: AdAccountReport) -> Iterator[pa.Table]:
    """Raw daily campaign insights, one row per campaign per ad-account-local day with delivery."""
    for page in report.daily_pages():
        if page:
            yield keyed_arrow(report.daily_frame(page), CAMPAIGN_DAY_KEY)


@dlt.resource(name="campaigns", write_disposition=REPLACE_DAYS, merge_key="company_id", primary_key=CAMPAIGN_KEY)
def campaigns(report: AdAccountReport) -> Iterator[pa.Table]:
    """Raw campaign metadata: name, status, objective, budgets in minor units, schedule."""
    for page in report.campaign_pages():
        if page:
            yield keyed_arrow(report.campaign_frame(page), CAMPAIGN_KEY)


@dlt.source(name="meta_ads", max_table_nesting=0)
def source(
    credentials: MetaAdsCredentials,
    start_date: date,
    end_date: date,
    company_id: str,
    settings: Settings,
    budget: Budget | None = None,
) -> tuple[DltResource, ...]:
    """An ad account's daily campaign insights for the local days start_date..end_date, and its campaigns.

    The credentials are passed in, never resolved from dlt config, and only the request's auth reads the token;
    what Meta says of its budget (and every wait for it) goes to ``budget``.
    """
    report = AdAccountReport(credentials, start_date, end_date, company_id, settings, budget)
    return campaign_daily(report), campaigns(report)
