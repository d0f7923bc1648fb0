"""Which raw partitions a load records in Dagster: every day it first loads, and on a re-pull only the days whose
numbers changed; a day the re-pull left as it was keeps its last materialization.

The loads are real client_refresh_job runs (in-process) from the emulator into a DuckDB warehouse; the days that
change are the one the test has the emulator restate.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import httpx

from orchestration.assets.raw import client_raw_asset_key
from orchestration.resources import TallyResource
from tests.orchestration.conftest import Connect, run_pending
from tests.pipelines.test_restatement import meta_rows
from warehouse import run_requests as requests_store

TABLES = ("campaign_daily", "campaigns")


def request(tally: TallyResource, kind: str, days: int | None = None) -> None:
    with tally.app_engine().begin() as db:
        requests_store.create_request(db, "acme", kind, ["meta_ads"], "test", days=days)


def materialized_days(instance: dg.DagsterInstance, table: str) -> Counter[date]:
    """How many materializations each of acme's days of a Meta raw table has, read from the instance."""
    records = instance.fetch_materializations(client_raw_asset_key("meta_ads", table, "acme"), limit=10_000).records
    partitions = [record.asset_materialization.partition for record in records]
    # A (client, day) key reads "acme|2026-09-01": the dimensions in name order, client first.
    return Counter(date.fromisoformat(str(partition).split("|")[1]) for partition in partitions)


def test_a_repull_materializes_the_days_it_changed_and_only_those(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client
) -> None:
    meta = connect("acme", "meta_ads")
    end = datetime.now(ZoneInfo(meta["timezone"])).date() - timedelta(days=1)
    request(tally, "backfill", days=30)
    assert run_pending(instance, tally) == [True]
    backfilled = {end - timedelta(days=n) for n in range(30)}
    for table in TABLES:
        assert materialized_days(instance, table) == Counter({day: 1 for day in backfilled})

    # Meta restates one campaign's day inside the 28-day window the sync re-pulls.
    day = end - timedelta(days=5)
    served = meta_rows(emulator, meta["account_id"], day)
    campaign_id = sorted(served)[0][0]
    spend, _ = served[(campaign_id, day)]
    restated = {"campaign_id": campaign_id, "date": day.isoformat(), "spend": str(spend + Decimal("10.00"))}
    emulator.put(f"/_emulator/restatements/meta_ads/{meta['account_id']}", json=restated).raise_for_status()
    request(tally, "sync")
    assert run_pending(instance, tally) == [True]
    for table in TABLES:
        assert materialized_days(instance, table) == Counter({d: 2 if d == day else 1 for d in backfilled})

    # The same re-pull again changes nothing, and records nothing.
    request(tally, "sync")
    assert run_pending(instance, tally) == [True]
    for table in TABLES:
        assert materialized_days(instance, table) == Counter({d: 2 if d == day else 1 for d in backfilled})
