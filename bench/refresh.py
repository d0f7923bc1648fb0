"""A morning refresh of N clients x 5 platforms through Tally, against the same loads and marts SQL run directly.

A morning's refresh is of clients Tally already holds: yesterday's sync loaded their windows, and overnight
the ad platforms restated a day here and there inside their attribution windows. So every client is connected to
the emulator's five platforms through the API and synced once, untimed; then each ad platform restates one
campaign-day of each client (``/_emulator/restatements``); then the clock starts, each client gets
``POST .../connections/sync`` (the outbox), and Dagster's own daemon runs the run_requests sensor and launches the
runs as in production (a process per run, the instance's queued-run limits); the clock stops when every request
reads ``succeeded``, which means its client's marts are published. Directly is what those runs do, without
Dagster: for one client after another, each platform's dlt source over the same lookback window into a DuckDB
file of its own, then ``refresh_marts(settings, [client])``, also timed on its second pass. Both sides talk to
the same emulator, in a process of its own. The marts part is
measured again on synthetic marts by ``bench/marts.py`` at ``--marts-clients`` and a tenth of them. Prints every
figure, then last

    refresh_ratio=<through Tally / direct>
    marts_per_client_growth=<one client's marts refresh at N clients / at N/10>

Targets: refresh_ratio <= 2.0 at ``--clients 20``; marts_per_client_growth <= 1.5 at ``--marts-clients 200``.

    .venv/bin/python -m bench.refresh [--clients 20] [--marts-clients 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# bench/ and tests/ are not installed packages: run as a script, this file needs the repo root on the path.
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dagster as dg  # noqa: E402
import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.marts import marts_per_client_growth  # noqa: E402
from pipelines.emulator import synthetic  # noqa: E402
from pipelines.emulator.accounts import emulator_credentials  # noqa: E402
from pipelines.loading import platform_pipeline  # noqa: E402
from pipelines.registry import PLATFORMS, get_platform, lookback_days, platforms_of_kind  # noqa: E402
from tally.background_server import wait_until_ready  # noqa: E402
from tally.child_processes import ChildProcesses, free_port  # noqa: E402
from tally.settings import Settings  # noqa: E402
from tests.databases import dagster_postgres_storage, temporary_postgres_database  # noqa: E402
from tests.e2e.daemon_stack import DaemonStack, daemon_stack  # noqa: E402
from warehouse.app_database import create_app_engine  # noqa: E402
from warehouse.app_tables import run_requests  # noqa: E402
from warehouse.serving import refresh_marts  # noqa: E402

TARGET_RATIO = 2.0
TARGET_GROWTH = 1.5


def company_id(index: int) -> str:
    return f"client{index:03d}"


def client_credentials(platform: str, index: int) -> Any:
    """The client's emulated account credentials of one platform, as its connector reads them."""
    return get_platform(platform).credentials_model.model_validate(emulator_credentials(platform, index + 1))


def local_today(platform: str, account_id: str) -> date:
    """Today in the emulated account's time zone."""
    return datetime.now(ZoneInfo(synthetic.account(platform, account_id).timezone)).date()


@contextmanager
def emulator_process(log_dir: Path) -> Iterator[str]:
    """The emulator in a process of its own, as the platforms are to Tally; yields its URL once it answers.

    Served from a thread of this process, it shared one interpreter lock with the direct loads, so the direct side
    paid for the platforms' CPU in series while through Tally (run workers are other processes) it did not.
    """
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "pipelines.emulator.app:create_emulator", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with ChildProcesses(log_dir) as children:
        children.start("emulator", command, os.environ | {"PYTHONPATH": str(REPO)}, REPO)
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{url}/_emulator/openapi.json", time.monotonic() + 60)
        yield url


def connect_clients(stack: DaemonStack, clients: int) -> None:
    """Connect every client to the five emulated platforms through the API (not timed)."""
    for index in range(clients):
        for platform in PLATFORMS:
            stack.connect(company_id(index), platform, seed=index + 1)


def wait_for_sensor(stack: DaemonStack, clients: int) -> None:
    """Wait until the daemon's sensor has ticked (it adds every connected client as a partition)."""
    expected = {company_id(index) for index in range(clients)}

    def ticked() -> bool:
        with dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance:
            return expected <= set(instance.get_dynamic_partitions("clients"))

    stack.wait_until(ticked, 300, "the sensor's first tick")


def sync_every_client(stack: DaemonStack, clients: int) -> float:
    """Ask for every client's sync through the API; the seconds until every request reads ``succeeded``."""
    engine = create_app_engine(stack.settings.resolved_app_database_url)
    with engine.connect() as db:
        earlier = db.execute(sa.select(sa.func.count()).select_from(run_requests)).scalar_one()
    started = time.perf_counter()
    for index in range(clients):
        response = stack.api.post(f"/api/clients/{company_id(index)}/connections/sync")
        assert response.status_code == 202, response.text

    def all_final() -> bool:
        with engine.connect() as db:
            rows = db.execute(sa.select(run_requests.c.company_id, run_requests.c.status, run_requests.c.error)).all()
        statuses = [row.status for row in rows]
        if "failed" in statuses:
            failed = "\n".join(f"{row.company_id}: {row.error}" for row in rows if row.status == "failed")
            raise SystemExit(f"a sync failed:\n{failed}\n{stack.daemon_log_tail()}")
        return len(statuses) == earlier + clients and set(statuses) == {"succeeded"}

    stack.wait_until(all_final, 3600, "every sync to succeed", interval_seconds=0.2)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def restate_overnight(emulator_url: str, clients: int) -> None:
    """Each ad platform restates one campaign-day of each client, three days back (inside every sync window)."""
    with httpx.Client(base_url=emulator_url) as emulator:
        for index in range(clients):
            for platform in platforms_of_kind("ads"):
                account_id = client_credentials(platform, index).account_id()
                day = local_today(platform, account_id) - timedelta(days=3)
                live = next(c for c in synthetic.campaigns(platform, account_id) if c.runs_on(day))
                restated = {"campaign_id": live.id, "date": day.isoformat(), "spend": "123.45"}
                emulator.put(f"/_emulator/restatements/{platform}/{account_id}", json=restated).raise_for_status()


def through_tally(stack: DaemonStack, emulator_url: str, clients: int) -> tuple[float, list[str]]:
    """Seconds of the morning's syncs through Tally (after a first, untimed one), and where their runs spent it."""
    sync_every_client(stack, clients)
    restate_overnight(emulator_url, clients)
    seconds = sync_every_client(stack, clients)
    with dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance:
        return seconds, run_breakdown(instance, time.time() - seconds)


def run_breakdown(instance: dg.DagsterInstance, requested_at: float) -> list[str]:
    """Where the runs' time went, from the instance's own run records and event log: how long after the first
    request each run was created (the sensor), waited in the queue (the run coordinator's limits), took from
    launch to its first step (the run worker's process start), ran, and how many events it stored."""
    records = [record for record in instance.get_run_records() if record.create_timestamp.timestamp() >= requested_at]
    created = [record.create_timestamp.timestamp() - requested_at for record in records]
    queued, starting, running, events = [], [], [], []
    failures: list[str] = []
    steps: dict[str, list[float]] = {}
    by_type: Counter[str] = Counter()
    for record in records:
        run_id = record.dagster_run.run_id
        logs = instance.all_logs(run_id)
        times = {entry.dagster_event_type: entry.timestamp for entry in logs if entry.is_dagster_event}
        launched = times.get(dg.DagsterEventType.RUN_STARTING, record.create_timestamp.timestamp())
        step_start = min(
            (entry.timestamp for entry in logs if entry.dagster_event_type == dg.DagsterEventType.STEP_START),
            default=launched,
        )
        queued.append(launched - record.create_timestamp.timestamp())
        starting.append(step_start - launched)
        running.append((record.end_time or step_start) - step_start)
        events.append(len(logs))
        by_type.update(entry.dagster_event_type.value if entry.dagster_event_type else "LOG_MESSAGE" for entry in logs)
        started_at: dict[str, float] = {}
        previous_end = step_start
        for entry in logs:
            if entry.step_key is None or not entry.is_dagster_event:
                continue
            kind = entry.step_key.split("[")[0]
            if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
                started_at[entry.step_key] = entry.timestamp
                steps.setdefault(f"{kind} waiting to start", []).append(entry.timestamp - previous_end)
            if entry.dagster_event_type == dg.DagsterEventType.STEP_FAILURE:
                failures.append(f"failed step: {record.dagster_run.job_name} {entry.step_key}: {entry.message}")
            if entry.dagster_event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                steps.setdefault(kind, []).append(entry.timestamp - started_at.get(entry.step_key, entry.timestamp))
                previous_end = entry.timestamp

    def spread(values: list[float], unit: str = "s") -> str:
        values = sorted(values)
        return f"median {values[len(values) // 2]:.2f} {unit}, max {values[-1]:.2f} {unit}" if values else "none"

    return (
        [
            f"runs: {len(records)}",
            f"run created after the first request: {spread(created)}",
            f"queued before launch (run limits): {spread(queued)}",
            f"launch to first step (worker process start): {spread(starting)}",
            f"first step to run end: {spread(running)}",
            f"events stored per run: {spread([float(n) for n in events], 'events')}",
            "events stored by type, all runs: " + ", ".join(f"{kind} {count}" for kind, count in by_type.most_common()),
        ]
        + [f"step {kind}: {spread(durations)}" for kind, durations in sorted(steps.items())]
        + failures
    )


def directly(settings: Settings, clients: int) -> tuple[float, float]:
    """Seconds for the same loads with dlt alone, one client after another, and the part spent on the marts: the
    second of two passes, as through Tally."""
    load_directly(settings, clients)
    return load_directly(settings, clients)


def load_directly(settings: Settings, clients: int) -> tuple[float, float]:
    """One pass of every client's loads and marts refresh; its seconds and the part spent on the marts."""
    started, marts_seconds = time.perf_counter(), 0.0
    for index in range(clients):
        company = company_id(index)
        for platform in PLATFORMS:
            spec = get_platform(platform)
            credentials = client_credentials(platform, index)
            end = local_today(platform, credentials.account_id()) - timedelta(days=1)
            start = end - timedelta(days=lookback_days(settings, platform) - 1)
            source = spec.source(credentials, start_date=start, end_date=end, company_id=company, settings=settings)
            platform_pipeline(platform, company, settings).run(source)
        marts_started = time.perf_counter()
        refresh_marts(settings, [company])
        marts_seconds += time.perf_counter() - marts_started
    return time.perf_counter() - started, marts_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--marts-clients", type=int, default=200)
    parser.add_argument("--marts-repeats", type=int, default=5)
    parser.add_argument(
        "--dagster-storage",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the instance's storage: the demo's SQLite files, or PostgreSQL as deploy/dagster.yaml has it",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tally-bench-refresh-") as scratch, ExitStack() as resources:
        root = Path(scratch)
        storage: dict[str, Any] = {}
        if args.dagster_storage == "postgres":
            storage = dagster_postgres_storage(resources.enter_context(temporary_postgres_database("tally_bench")))
        with emulator_process(root / "logs") as emulator_url:
            (root / "tally").mkdir()
            companies = [company_id(i) for i in range(args.clients)]
            with daemon_stack(root / "tally", emulator_url, companies, storage) as stack:
                connect_clients(stack, args.clients)
                wait_for_sensor(stack, args.clients)
                tally_s, breakdown = through_tally(stack, emulator_url, args.clients)
            direct_settings = stack.settings.model_copy(update={"data_dir": root / "direct"})
            direct_s, direct_marts_s = directly(direct_settings, args.clients)
    growth = marts_per_client_growth(args.marts_clients, args.marts_repeats)
    ratio = tally_s / direct_s
    print(f"{args.clients} clients x {len(PLATFORMS)} platforms, each platform's sync lookback")
    print(f"Dagster instance storage: {args.dagster_storage}")
    per_client = tally_s / args.clients
    print(f"through Tally (outbox, sensor, daemon, runs): {tally_s:8.2f} s  {per_client:.2f} s/client")
    for line in breakdown:
        print(f"  {line}")
    print(f"directly (dlt + marts SQL, client by client): {direct_s:8.2f} s  of which marts {direct_marts_s:.2f} s")
    for name, value in growth.items():
        if name != "marts_per_client_growth":
            print(f"marts bench {name}={value}")
    print(f"target refresh_ratio<={TARGET_RATIO} {'met' if ratio <= TARGET_RATIO else 'MISSED'}")
    growth_met = growth["marts_per_client_growth"] <= TARGET_GROWTH
    print(f"target marts_per_client_growth<={TARGET_GROWTH} {'met' if growth_met else 'MISSED'}")
    print(f"refresh_ratio={ratio:.2f}")
    print(f"marts_per_client_growth={growth['marts_per_client_growth']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
