"""A platform load run in a process of its own that SIGKILLs itself at a chosen point of its load.

``python -m tests.hardening.killed_run '<json>'`` loads one client's days of one platform through the real asset
on a Dagster instance in a directory (or, with ``outbox``, runs the outbox's pending request as the sensor and
the backfill daemon would). Just before the warehouse statement that marks the kill point it sends itself SIGKILL,
so the run dies as a run worker killed by the OOM killer or a lost machine would: no ``finally``, no rollback by
Python; a DuckDB file with whatever its write-ahead log holds, or a PostgreSQL session cut off mid-transaction.
Exiting normally means the kill point was never reached, which the test counts as a failure."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import dagster as dg
from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient
from dlt.destinations.impl.postgres.sql_client import Psycopg2SqlClient

from orchestration.assets.raw import raw_assets
from orchestration.partitions import partition_key
from orchestration.resources import TallyResource

# The statement a kill comes just before, in the order a load runs them, and which match of it (DuckDB and
# PostgreSQL both send these through their dlt SQL client; PostgreSQL copies into staging with COPY, so its kill
# point there is the staging tables' truncation that starts the load).
KILL_POINTS = {
    "staging": (r'^(INSERT INTO|TRUNCATE TABLE) "raw_\w+_staging\w*"\.', 1),  # starting to fill dlt's staging tables
    "merge": (r'^DELETE FROM "raw_\w+"\."\w+" as d', 2),  # one table merged, the next one's merge starting
}


def load_range(
    instance: dg.DagsterInstance, tally: TallyResource, platform: str, company_id: str, start: date, end: date
) -> bool:
    """Run a platform's raw asset over one client's days as one run (a single-run backfill); whether it succeeded."""
    [asset] = [asset for asset in raw_assets if asset.node_def.name == f"{platform}_raw"]
    if company_id not in instance.get_dynamic_partitions("clients"):
        instance.add_dynamic_partitions("clients", [company_id])
    first, last = partition_key(company_id, start), partition_key(company_id, end)
    # Dagster's partition-range run tags, as its backfill daemon writes them for a single-run backfill.
    tags = {"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last)}
    result = dg.materialize([asset], instance=instance, resources={"tally": tally}, tags=tags, raise_on_error=False)
    return result.success


def kill_before(point: tuple[str, int], kill: Callable[[], None]) -> None:
    """Make every statement dlt (or the run) sends to the warehouse first check whether it is the kill point."""
    marker, nth = re.compile(point[0]), point[1]
    seen = 0
    for client in (DuckDbSqlClient, Psycopg2SqlClient):
        original = client.execute_query

        def execute_query(self: Any, query: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            nonlocal seen
            if marker.search(" ".join(str(query).split())):
                seen += 1
                if seen == nth:
                    kill()
            return _original(self, query, *args, **kwargs)

        client.execute_query = execute_query  # type: ignore[method-assign]


def main(config: dict[str, Any]) -> int:
    """Load the configured range (or, with ``outbox``, run what the outbox holds), dying at the kill point."""
    kill_before(KILL_POINTS[config["kill_at"]], lambda: os.kill(os.getpid(), signal.SIGKILL))
    tally = TallyResource(**config["tally"])
    with dg.DagsterInstance.local_temp(tempdir=config["dagster_home"]) as instance:
        if config.get("outbox"):
            from tests.orchestration.conftest import run_pending

            run_pending(instance, tally)
            return 0
        start = date.fromisoformat(config["start"])
        end = start + timedelta(days=config["days"] - 1)
        load_range(instance, tally, config["platform"], config["company_id"], start, end)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
