"""The ECB's reference rates as one dlt resource: ``reference_rates``, one row per publication day and currency.

Each load reads ``eurofxref-daily.xml`` (the latest publication day, a few hundred bytes). When the warehouse's
rates stop before the publication day preceding it (a first load, or loads that did not run for a while), it
reads ``eurofxref-hist.xml`` too and keeps the days after the last one loaded, or, on a first load, the days
from ``HISTORY_MARGIN_DAYS`` before ``TALLY_HISTORY_START``. The rows merge delete-insert on ``date``, so a
day loaded twice is replaced, never doubled.

Columns: ``date`` (the publication day), ``currency`` (ISO 4217) and ``rate``: units of the currency per euro,
as the ECB quotes it (decimal, six places). The euro itself is not quoted: its rate is 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import dlt
import polars as pl
import pyarrow as pa
from dlt.sources import DltResource

from pipelines.fx.client import ecb_session, fetch_rates, previous_weekday
from pipelines.fx.settings import DAILY_FILE, HISTORY_FILE, HISTORY_MARGIN_DAYS, SOURCE, TABLE
from pipelines.loading import REPLACE_DAYS, keyed_arrow
from tally.settings import Settings

PUBLICATION_KEY = ("date",)
PRIMARY_KEY = ("date", "currency")


def rates_to_load(settings: Settings, since: date | None) -> pl.DataFrame:
    """The rates a load brings: the latest publication day, and the history when the warehouse has a gap."""
    session = ecb_session(settings)
    latest = fetch_rates(session, settings, DAILY_FILE)
    newest_day = latest["date"].max()
    if since is not None and isinstance(newest_day, date) and since >= previous_weekday(newest_day):
        return latest.filter(pl.col("date") > since)
    history = fetch_rates(session, settings, HISTORY_FILE)
    first = since + timedelta(days=1) if since else settings.history_start - timedelta(days=HISTORY_MARGIN_DAYS)
    return (
        pl.concat([history, latest]).unique(PRIMARY_KEY, keep="last").filter(pl.col("date") >= first).sort(PRIMARY_KEY)
    )


@dlt.resource(name=TABLE, write_disposition=REPLACE_DAYS, merge_key=PUBLICATION_KEY, primary_key=PRIMARY_KEY)
def reference_rates(settings: Settings, since: date | None) -> Iterator[pa.Table]:
    """Units of each currency per euro, per ECB publication day."""
    rates = rates_to_load(settings, since)
    if rates.height:
        yield keyed_arrow(rates, PRIMARY_KEY)


@dlt.source(name=SOURCE, max_table_nesting=0)
def source(settings: Settings, since: date | None = None) -> DltResource:
    """The ECB's euro reference rates published after ``since`` (the last day the warehouse holds; None for a
    first load). Nothing is fetched until the load extracts it."""
    return reference_rates(settings, since)
