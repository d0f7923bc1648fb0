"""What grows with partitions, measured with Dagster's own APIs at 10 and at 500 clients x the history days.

For each client count: a real instance on a temp DAGSTER_HOME (a copy of ``dagster_home/dagster.yaml``, SQLite
run-sharded storage, the queued run coordinator), the ``clients`` partitions of every client, and a recorded
history of ``raw/meta_ads/campaign_daily``: client i was onboarded on a day spread over the history and has every
day from then to yesterday materialized, so every client's range starts on a different day (what an agency that
adds clients over time has). Then:

- ``sensor tick``: the real ``run_requests_sensor`` (``dg.build_sensor_context``) on a real app database holding
  every client's five connections and one pending 90-day backfill; the first tick adds the clients' partitions,
  later ticks are the steady state (median), and a tick after a new client connects adds that client's (median of
  five).
- ``launch run``: the webserver's ``launchRun`` mutation for ``client_refresh_job`` with the tick's run config and
  tags (queued: no daemon runs here, so nothing executes), median of a few.
- ``launch backfill``: the webserver's ``launchPartitionBackfill`` of the platform asset over one client's 90 days,
  what the UI sends from the asset page's Materialize.
- ``run's materializations``: what the refresh run itself records, one materialization per raw table x day of the
  90-day window (``_report_raw_partitions``, run in an op against the instance).
- ``partition status``: the asset page's ``PartitionHealthQuery`` (copied from the webserver's bundled UI) sent to a
  real ``dagster-webserver`` on loopback: first read (no status cache; also the webserver's first asset query),
  warm (median), and right after a new client of that asset's shard is added (median of five new clients).
- ``asset catalog``: every asset node with its partitions definition (the catalog's list).

The history is written with the event storage's own insert statements in batches (the rows ``store_event`` writes
for a runless materialization, one transaction per batch): event by event it takes about 7 ms an event on SQLite,
so 500 clients x 700 days would take most of an hour. Prints each figure at both counts and their ratio.

    .venv/bin/python bench/partitions.py [--clients 10,500] [--days 730]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/ is not an installed package: run as a script, this file needs the repo root on the path.
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

BACKFILL_DAYS = 90
MEASURED_PLATFORM, MEASURED_TABLE = "meta_ads", "campaign_daily"
WARM_READS = 5
INSERT_BATCH = 5_000

PARTITION_HEALTH_QUERY = """
query PartitionHealthQuery($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name type partitionKeys }
      assetPartitionStatuses {
        ... on TimePartitionStatuses { ranges { status startTime endTime startKey endKey } }
        ... on DefaultPartitionStatuses { materializedPartitions materializingPartitions failedPartitions }
        ... on MultiPartitionStatuses {
          primaryDimensionName
          ranges {
            primaryDimStartKey primaryDimEndKey primaryDimStartTime primaryDimEndTime
            secondaryDim {
              ... on TimePartitionStatuses { ranges { status startTime endTime startKey endKey } }
              ... on DefaultPartitionStatuses { materializedPartitions materializingPartitions failedPartitions }
            }
          }
        }
      }
    }
  }
}
"""
CATALOG_QUERY = """
query AssetCatalog { assetNodes { id assetKey { path } groupName partitionDefinition { type description } } }
"""
LAUNCH_RUN_MUTATION = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
LAUNCH_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def company_id(index: int) -> str:
    return f"client{index:03d}"


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


class Webserver:
    """A real ``dagster-webserver`` on loopback over the bench's instance, loading the repository's workspace."""

    def __init__(self, stack: ExitStack, home: Path, env: dict[str, str]) -> None:
        from tally.child_processes import ChildProcesses, free_port
        from tally.demo import wait_for_code_location

        children = stack.enter_context(ChildProcesses(home / "logs"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [str(REPO / ".venv/bin/dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1"]
        children.start("webserver", [*command, "-p", str(port)], env=env, cwd=REPO)
        children.wait_for_url(f"{self.url}/server_info", timeout_seconds=180)
        wait_for_code_location(children, self.url)
        self.client = stack.enter_context(httpx.Client(base_url=self.url, timeout=600))

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.client.post("/graphql", json={"query": query, "variables": variables or {}})
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]


def history_start(index: int, clients: int, days: int) -> int:
    """The first materialized day (offset from the history's first day) of client ``index``: spread over the
    history so that clients were onboarded at different times, each with a 90-day backfill at onboarding."""
    return (index * (days - BACKFILL_DAYS)) // max(clients, 1)


def record_history(instance: Any, asset_key_of: Callable[[str], Any], clients: int, first_day: date, days: int) -> int:
    """Write every client's materialized days of the measured asset; returns how many materializations."""
    import dagster as dg
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry

    from orchestration.partitions import partition_key

    storage = instance.event_log_storage
    pending: list[Any] = []
    written = 0

    def flush() -> None:
        if not pending:
            return
        with storage.index_transaction() as conn:
            ids = [conn.execute(storage.prepare_insert_event(event)).inserted_primary_key[0] for event in pending]
            storage._store_asset_event_tags(conn, pending, ids)
            for event, event_id in zip(pending, ids, strict=True):
                storage._store_asset_event(conn, event, event_id)
        with storage.run_connection("") as conn:
            for event in pending:
                conn.execute(storage.prepare_insert_event(event))
        pending.clear()

    stamp = time.time() - 3600
    for index in range(clients):
        company = company_id(index)
        for offset in range(history_start(index, clients, days), days):
            materialization = dg.AssetMaterialization(
                asset_key=asset_key_of(company),
                partition=str(partition_key(company, first_day + timedelta(days=offset))),
                metadata={"rows": 20, "company_id": company},
            )
            event = DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
                event_specific_data=StepMaterializationData(materialization),
                job_name="",
            )
            pending.append(
                EventLogEntry(
                    user_message="",
                    level=logging.INFO,
                    job_name="",
                    run_id="",
                    error_info=None,
                    timestamp=stamp,
                    dagster_event=event,
                )
            )
            written += 1
            if len(pending) >= INSERT_BATCH:
                flush()
    flush()
    return written


def connect_clients(tally: Any, companies: Sequence[str], first_seed: int = 1) -> None:
    """Store five active connections per client in one transaction, as the API would (credentials encrypted by the
    vault); each client's emulated accounts come from its own seed, counted from ``first_seed``."""
    from pipelines.registry import PLATFORMS
    from tests.orchestration.conftest import store_emulated_connection

    vault = tally.vault()
    with tally.app_engine().begin() as db:
        for seed, company in enumerate(companies, start=first_seed):
            for platform in PLATFORMS:
                store_emulated_connection(db, vault, company, platform, seed=seed)


def measure(clients: int, days: int, work: Path) -> dict[str, float]:
    """Every figure at one client count, on a fresh instance and app database under ``work``."""
    import dagster as dg

    from orchestration.assets.raw import RAW_TABLES, FetchedDays, WrittenDays, client_raw_asset_key
    from orchestration.client_refresh import _report_raw_partitions
    from orchestration.definitions import defs
    from orchestration.partitions import ClientDays, add_clients, partition_key
    from orchestration.resources import TallyResource
    from orchestration.sensors import run_requests_sensor
    from warehouse import run_requests as outbox
    from warehouse.app_database import upgrade

    figures: dict[str, float] = {}
    home = work / f"dagster-{clients}"
    home.mkdir(parents=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    url = f"sqlite:///{work / f'app-{clients}.db'}"
    upgrade(url)
    tally = TallyResource(data_dir=str(work / f"tally-{clients}"), app_database_url=url)
    connect_clients(tally, [company_id(index) for index in range(clients)])
    with tally.app_engine().begin() as db:
        outbox.create_request(db, company_id(0), "backfill", ["meta_ads", "google_ads", "tiktok_ads"], "bench", 90)
    first_day = tally.settings.history_start

    with ExitStack() as stack:
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))

        def tick() -> dg.SensorResult:
            context = dg.build_sensor_context(instance=instance, definitions=defs, resources={"tally": tally})
            return run_requests_sensor(context)

        figures["sensor tick, first (adds the clients)"], _ = timed(tick)
        ticks = [timed(tick) for _ in range(5)]
        figures["sensor tick"] = statistics.median(seconds for seconds, _ in ticks)
        run_request = ticks[-1][1].run_requests[0]
        onboarding = []
        for n in range(5):
            connect_clients(tally, [f"onboarded{n}"], first_seed=clients + n + 1)
            onboarding.append(timed(tick)[0])
        figures["sensor tick that adds one new client"] = statistics.median(onboarding)

        def asset_key_of(company: str) -> dg.AssetKey:
            return client_raw_asset_key(MEASURED_PLATFORM, MEASURED_TABLE, company)

        figures["history recorded (materializations)"], _ = timed(
            lambda: record_history(instance, asset_key_of, clients, first_day, days)
        )
        measured = asset_key_of(company_id(0))
        figures["materializations of the measured asset"] = len(instance.get_materialized_partitions(measured))

        end = first_day + timedelta(days=days - 1)
        span = ClientDays(company_id(0), end - timedelta(days=BACKFILL_DAYS - 1), end)

        @dg.op
        def report(context) -> None:  # noqa: ANN001 (a local op: Dagster cannot resolve a string annotation here)
            for platform in RAW_TABLES:
                fetched = FetchedDays(platform, span, "c", "a", str(work), {}, 0.0)
                _report_raw_partitions(context, WrittenDays(fetched, 0.0))

        @dg.job(executor_def=dg.in_process_executor)
        def record_run_materializations() -> None:
            report()

        quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
        figures["run's materializations (90 days x 10 raw tables)"], _ = timed(
            lambda: record_run_materializations.execute_in_process(run_config=quiet, instance=instance)
        )

        env = {**os.environ, "DAGSTER_HOME": str(home)}
        web = Webserver(stack, home, env)
        variables = {"assetKey": {"path": asset_key_of(company_id(0)).path}}
        figures["partition status, first read"], first = timed(lambda: web.query(PARTITION_HEALTH_QUERY, variables))
        statuses = first["assetNodeOrError"]["assetPartitionStatuses"]
        figures["partition status ranges"] = len(statuses.get("ranges") or [])
        warm = [timed(lambda: web.query(PARTITION_HEALTH_QUERY, variables))[0] for _ in range(WARM_READS)]
        figures["partition status, warm"] = statistics.median(warm)
        # New clients of the measured shard, one at a time (the sensor adds a client's partition as it connects).
        new_clients = [f"new{n}" for n in range(10_000) if asset_key_of(f"new{n}") == asset_key_of(company_id(0))]
        after_new = []
        for new_client in new_clients[:WARM_READS]:
            add_clients(instance, [new_client])
            after_new.append(timed(lambda: web.query(PARTITION_HEALTH_QUERY, variables))[0])
        figures["partition status, after a new client"] = statistics.median(after_new)
        catalog = [timed(lambda: web.query(CATALOG_QUERY)) for _ in range(3)]
        figures["asset catalog"] = statistics.median(seconds for seconds, _ in catalog)
        figures["assets in the catalog"] = len(catalog[0][1]["assetNodes"])

        entries = web.query("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
        location = entries["workspaceOrError"]["locationEntries"][0]["name"]
        selector = {"repositoryLocationName": location, "repositoryName": "__repository__"}
        tags = [{"key": key, "value": value} for key, value in run_request.tags.items() if key != "tally/request_id"]

        def launch_run(n: int) -> None:
            params = {
                "selector": {**selector, "jobName": run_request.job_name},
                "runConfigData": json.dumps(run_request.run_config),
                "executionMetadata": {"tags": [*tags, {"key": "bench", "value": str(n)}]},
            }
            launched = web.query(LAUNCH_RUN_MUTATION, {"executionParams": params})["launchRun"]
            if launched["__typename"] != "LaunchRunSuccess":
                raise RuntimeError(f"launchRun: {launched}")

        launches = [timed(lambda n=n: launch_run(n))[0] for n in range(WARM_READS)]
        figures["launch run (client_refresh_job, queued)"] = statistics.median(launches)

        partition_names = [
            str(partition_key(company_id(0), span.start + timedelta(days=n))) for n in range(BACKFILL_DAYS)
        ]
        platform_keys = [
            client_raw_asset_key(MEASURED_PLATFORM, table, company_id(0)) for table in RAW_TABLES[MEASURED_PLATFORM]
        ]

        def launch_backfill() -> None:
            params = {
                "assetSelection": [{"path": key.path} for key in platform_keys],
                "partitionNames": partition_names,
            }
            launched = web.query(LAUNCH_BACKFILL_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]
            if launched["__typename"] != "LaunchBackfillSuccess":
                raise RuntimeError(f"launchPartitionBackfill: {launched}")

        backfills = [timed(launch_backfill)[0] for _ in range(WARM_READS)]
        figures["launch backfill (one client's 90 days)"] = statistics.median(backfills)
    return figures


COUNTS = {"materializations of the measured asset", "partition status ranges", "assets in the catalog"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="10,500", help="two client counts, comma-separated")
    parser.add_argument("--days", type=int, default=730, help="history days (sets TALLY_HISTORY_START)")
    parser.add_argument("--shards", type=int, help="TALLY_CLIENT_SHARDS for both counts (default: the environment's)")
    parser.add_argument("--work", type=Path, help="keep the instances and logs in this (new) folder")
    args = parser.parse_args()
    if args.shards:
        os.environ["TALLY_CLIENT_SHARDS"] = str(args.shards)
    small, large = (int(value) for value in args.clients.split(","))
    yesterday = datetime.now().date() - timedelta(days=1)
    os.environ["TALLY_HISTORY_START"] = (yesterday - timedelta(days=args.days - 1)).isoformat()
    os.environ.setdefault("TALLY_ENCRYPTION_KEYS", _key())
    os.environ["DAGSTER_TELEMETRY_DISABLED"] = "1"
    with ExitStack() as stack:
        folder = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tally-partitions-")))
        measure(2, args.days, folder / "warm-up")  # imports and first connections, counted for neither
        results = {count: measure(count, args.days, folder) for count in (small, large)}
    from orchestration.partitions import CLIENT_SHARDS

    print(f"history days: {args.days} (TALLY_HISTORY_START={os.environ['TALLY_HISTORY_START']})")
    print(f"client shards: {CLIENT_SHARDS} (TALLY_CLIENT_SHARDS); the measured asset is client000's")
    print(f"{'figure':<48} {small:>10} {large:>10} {'ratio':>7}")
    for name in results[small]:
        low, high = results[small][name], results[large][name]
        if name in COUNTS:
            print(f"{name:<48} {low:>10.0f} {high:>10.0f}")
        else:
            print(f"{name:<48} {low:>9.3f}s {high:>9.3f}s {high / low:>6.2f}x")


def _key() -> str:
    from warehouse.vault import generate_key

    return generate_key()


if __name__ == "__main__":
    main()
