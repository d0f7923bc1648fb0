"""Reads under write load: the results routes driven by many concurrent clients while backfills write the warehouse.

For each warehouse (the DuckDB file with Parquet serving, and PostgreSQL), this seeds clients with connections to
three emulated ad platforms, loads 90 days through the real Dagster path (run_requests sensor, single-run
backfills, marts refresh and publish), then serves the real API with uvicorn in a child process and drives

    /api/clients/{id}/results, /results/campaigns and /results/campaigns/daily

from ``--concurrency`` concurrent keep-alive clients for ``--seconds``, twice: once with nothing else running (the
baseline of the same run), once while a writer process re-runs one client's backfill (``--writer-days``) and the
marts refresh after another. The emulator restates recent days, so each cycle brings new numbers: the warehouse
is written and, on DuckDB, a new version of the client's marts is published under the readers. It prints
requests, errors, p50 and p99 for both, the writer's completed cycles and the versions it published. Targets:
zero errors; p99 under load within 2x of p99 without it.

    .venv/bin/python bench/load.py [--warehouse duckdb|postgres|both] [--seconds 40] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import multiprocessing
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import dagster as dg
import httpx

# bench/ and tests/ are not installed packages: run as a script, this file needs the repo root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.auth import mint_token  # noqa: E402
from bench.api import percentile_ms, serve  # noqa: E402
from orchestration.resources import TallyResource  # noqa: E402
from pipelines.emulator.app import create_emulator  # noqa: E402
from tally.background_server import serve_in_thread  # noqa: E402
from tally.settings import Settings  # noqa: E402
from tests.databases import temporary_postgres_database  # noqa: E402
from tests.orchestration.conftest import run_pending, store_emulated_connection  # noqa: E402
from warehouse import run_requests as outbox  # noqa: E402
from warehouse.app_database import upgrade  # noqa: E402
from warehouse.vault import generate_key  # noqa: E402

PLATFORMS = ["meta_ads", "google_ads", "tiktok_ads"]
ROUTES = ("/results", "/results/campaigns", "/results/campaigns/daily")
TARGET_P99_RATIO = 2.0


def company_id(index: int) -> str:
    """The id of the client at a zero-based index."""
    return f"load-{index + 1:02d}"


def backfill(tally: TallyResource, companies: list[str], days: int) -> int:
    """Request a ``days`` backfill for each company and run what the sensor launches (each run publishes its
    client's marts). Returns how many companies were refreshed."""
    with tally.app_engine().begin() as db:
        for company in companies:
            outbox.create_request(db, company, "backfill", PLATFORMS, "bench", days=days)
    # Dagster's console logger writes every event of the in-process runs to stderr: the figures would drown.
    with dg.instance_for_test() as instance, contextlib.redirect_stderr(io.StringIO()):
        outcomes = run_pending(instance, tally)
    if not all(outcomes):
        raise SystemExit("a backfill run failed")
    return len(outcomes)


def seed(tally: TallyResource, clients: int, days: int) -> dict[str, list[tuple[str, str]]]:
    """Connect every client to the three emulated ad platforms and load ``days`` of data.

    Returns each company id with its (platform, account id) pairs.
    """
    accounts: dict[str, list[tuple[str, str]]] = {}
    vault = tally.vault()
    with tally.app_engine().begin() as db:
        for index in range(clients):
            company = company_id(index)
            accounts[company] = [
                (platform, store_emulated_connection(db, vault, company, platform, seed=index + 1)["account_id"])
                for platform in PLATFORMS
            ]
    backfill(tally, list(accounts), days)
    return accounts


def restate_recent_days(emulator_url: str, accounts: dict[str, list[tuple[str, str]]]) -> None:
    """Turn on late attribution for every account: each re-load then finds more conversions on recent days.

    Publishing skips a company whose rows did not change, so without new numbers a re-run backfill would write
    nothing for the readers to see; with them, every writer cycle publishes a new version under the readers.
    """
    for pairs in accounts.values():
        for platform, account_id in pairs:
            response = httpx.put(
                f"{emulator_url}/_emulator/faults/{platform}/{account_id}", json={"late_attribution": True}
            )
            response.raise_for_status()


def write_until_stopped(
    locations: dict[str, str | None],
    companies: list[str],
    days: int,
    started: Event,
    stop: Event,
    cycles: Synchronized[int],
    published: Synchronized[int],
) -> None:
    """The writer process: one client's backfill and a marts refresh after another, until told to stop."""
    tally = TallyResource(**locations)
    started.set()
    for company in itertools.cycle(companies):
        if stop.is_set():
            return
        written = backfill(tally, [company], days)
        with cycles.get_lock():
            cycles.value += 1
            published.value += written


@dataclass
class Load:
    """What the readers saw in one measurement."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile of the successful requests, in milliseconds."""
        return percentile_ms(self.latencies, fraction)


async def drive(url: str, token: str, companies: list[str], seconds: float, concurrency: int) -> Load:
    """``concurrency`` clients, each calling a random route of a random company back to back for ``seconds``."""
    load = Load(seconds)
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:

        async def reader(seed: int) -> None:
            chooser = random.Random(seed)
            while time.perf_counter() < deadline:
                path = f"/api/clients/{chooser.choice(companies)}{chooser.choice(ROUTES)}"
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.HTTPError as error:
                    load.errors[type(error).__name__] += 1
                    continue
                if response.status_code == 200:
                    load.latencies.append(time.perf_counter() - started)
                else:
                    load.errors[f"HTTP {response.status_code}: {response.text[:120]}"] += 1

        await asyncio.gather(*(reader(seed) for seed in range(concurrency)))
    return load


@dataclass
class Writer:
    """The writer process, the backfill-and-refresh cycles it has finished and the company versions published."""

    process: multiprocessing.Process
    cycles: Synchronized[int]
    published: Synchronized[int]


@contextmanager
def writer(locations: dict[str, str | None], companies: list[str], days: int) -> Iterator[Writer]:
    """The backfill writer in a process of its own (spawned: a fresh interpreter), running once it has started."""
    context = multiprocessing.get_context("spawn")
    started, stop = context.Event(), context.Event()
    cycles, published = context.Value("i", 0), context.Value("i", 0)
    process = context.Process(
        target=write_until_stopped, args=(locations, companies, days, started, stop, cycles, published), daemon=True
    )
    process.start()
    state = Writer(process, cycles, published)
    try:
        if not started.wait(120):
            raise SystemExit("the writer process did not start")
        yield state
    finally:
        stop.set()
        process.join(600)
        if process.is_alive():
            process.kill()


@dataclass(frozen=True)
class Measured:
    """One warehouse's two measurements."""

    warehouse: str
    quiet: Load
    loaded: Load
    writer_exit: int | None
    writer_cycles: int
    writer_published: int


def measure(warehouse: str, args: argparse.Namespace) -> Measured:
    """Seed, serve and drive one warehouse: quiet first, then under the backfill writer."""
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tally-load-")))
        emulator_url = stack.enter_context(serve_in_thread(create_emulator()))
        warehouse_url = (
            stack.enter_context(temporary_postgres_database("tally_load")) if warehouse == "postgres" else None
        )
        locations = {
            "data_dir": str(root),
            "app_database_url": f"sqlite:///{root / 'app.db'}",
            "warehouse_url": warehouse_url,
            "platform_base_url": emulator_url,
        }
        tally = TallyResource(**locations)
        settings: Settings = tally.settings
        upgrade(settings.resolved_app_database_url)
        started = time.perf_counter()
        accounts = seed(tally, args.clients, args.days)
        companies = list(accounts)
        print(
            f"[{warehouse}] seeded {len(companies)} clients x {len(PLATFORMS)} platforms x {args.days} days "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        url = stack.enter_context(serve(settings))
        token = mint_token(settings, "bench", ["clients:view"], companies, ttl_seconds=3600)
        asyncio.run(drive(url, token, companies, args.warmup, args.concurrency))
        quiet = asyncio.run(drive(url, token, companies, args.seconds, args.concurrency))
        restate_recent_days(emulator_url, accounts)
        with writer(locations, companies, args.writer_days) as state:
            loaded = asyncio.run(drive(url, token, companies, args.seconds, args.concurrency))
            cycles, published = state.cycles.value, state.published.value
        return Measured(warehouse, quiet, loaded, state.process.exitcode, cycles, published)


def report(measured: Measured) -> bool:
    """Print one warehouse's figures; whether its targets were met."""
    print(f"\n{measured.warehouse}: {'':8}{'requests':>9} {'errors':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for label, load in (("quiet", measured.quiet), ("backfill", measured.loaded)):
        print(
            f"  {label:16}{load.requests:9d} {sum(load.errors.values()):7d} {load.requests / load.seconds:7.1f} "
            f"{load.percentile_ms(0.5):8.2f} {load.percentile_ms(0.99):8.2f}"
        )
        for error, count in load.errors.most_common(5):
            print(f"      {count} x {error}")
    ratio = measured.loaded.percentile_ms(0.99) / measured.quiet.percentile_ms(0.99)
    errors = sum(measured.quiet.errors.values()) + sum(measured.loaded.errors.values())
    met = errors == 0 and ratio <= TARGET_P99_RATIO
    print(
        f"  p99 under backfill / quiet p99: {ratio:.2f}x (target <= {TARGET_P99_RATIO}x); errors: {errors} "
        f"(target 0): {'met' if met else 'NOT MET'}"
    )
    print(
        f"  writer cycles finished while measured: {measured.writer_cycles} (each: one client's backfill of "
        f"{', '.join(PLATFORMS)}, then the marts refresh and publish)"
    )
    if measured.warehouse == "duckdb":
        print(f"  client versions published under the readers: {measured.writer_published}")
    if measured.writer_exit not in (0, None):
        print(f"  the writer process exited with code {measured.writer_exit}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", choices=("duckdb", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each measurement (default 40)")
    parser.add_argument("--warmup", type=float, default=3.0, help="untimed load first (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent readers (default 16)")
    parser.add_argument("--clients", type=int, default=4, help="clients seeded (default 4)")
    parser.add_argument("--days", type=int, default=90, help="days of data seeded per client (default 90)")
    parser.add_argument(
        "--writer-days", type=int, default=14, help="days each of the writer's backfills re-loads (default 14)"
    )
    args = parser.parse_args()
    os.environ["TALLY_ENCRYPTION_KEYS"] = generate_key()
    os.environ["TALLY_JWT_SECRET"] = secrets.token_urlsafe(32)
    warehouses = ("duckdb", "postgres") if args.warehouse == "both" else (args.warehouse,)
    print(
        f"{args.concurrency} concurrent readers for {args.seconds:.0f} s per measurement, routes: {', '.join(ROUTES)}"
    )
    results = [report(measure(warehouse, args)) for warehouse in warehouses]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
