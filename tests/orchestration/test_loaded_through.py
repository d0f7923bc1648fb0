"""A successful load records on its connection the last local day it covered; nothing else moves that day.

Real loads of Meta's emulated account into a real DuckDB warehouse, through the platform asset in-process.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import sqlalchemy as sa

from orchestration.definitions import defs
from orchestration.partitions import partition_key
from orchestration.resources import TallyResource
from tests.orchestration.conftest import Connect, run_pending
from warehouse import run_requests as requests_store
from warehouse.app_tables import connections

META_RAW = [asset for asset in defs.assets if asset.node_def.name == "meta_ads_raw"]


def load_day(instance: dg.DagsterInstance, tally: TallyResource, day: date) -> bool:
    """Load acme's Meta account for one local day; whether the run succeeded."""
    result = dg.materialize(
        META_RAW,
        instance=instance,
        resources={"tally": tally},
        partition_key=partition_key("acme", day),
        raise_on_error=False,
    )
    return result.success


def loaded_through(tally: TallyResource, connection_id: str) -> date | None:
    with tally.app_engine().connect() as db:
        value = db.scalar(sa.select(connections.c.loaded_through).where(connections.c.id == connection_id))
    return None if value is None else date.fromisoformat(str(value))


def test_a_load_records_its_last_day_and_never_moves_it_back(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client
) -> None:
    connection = connect("acme", "meta_ads")
    instance.add_dynamic_partitions("clients", ["acme"])
    assert loaded_through(tally, connection["id"]) is None

    assert load_day(instance, tally, date(2024, 3, 10))
    assert loaded_through(tally, connection["id"]) == date(2024, 3, 10)

    assert load_day(instance, tally, date(2024, 3, 5))  # re-pulling an older day
    assert loaded_through(tally, connection["id"]) == date(2024, 3, 10)

    assert load_day(instance, tally, date(2024, 3, 12))
    assert loaded_through(tally, connection["id"]) == date(2024, 3, 12)

    emulator.put(f"/_emulator/faults/meta_ads/{connection['account_id']}", json={"server_error": 50})
    assert not load_day(instance, tally, date(2024, 3, 20))  # a failed load covered nothing
    assert loaded_through(tally, connection["id"]) == date(2024, 3, 12)


def test_a_sync_records_yesterday_in_the_account_time_zone(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    connection = connect("acme", "ga4")
    with tally.app_engine().begin() as db:
        requests_store.create_request(db, "acme", "sync", ["ga4"], "test")

    assert run_pending(instance, tally) == [True]

    yesterday = datetime.now(ZoneInfo(connection["timezone"])).date() - timedelta(days=1)
    assert loaded_through(tally, connection["id"]) == yesterday
