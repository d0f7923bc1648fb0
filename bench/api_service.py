"""``tally api --workers N`` under load: each results route's throughput against the authenticated static route,
and cold reads against the raw rollup query, for ``bench/api.py``.

For each worker count the real command line serves the warehouse twice. As configured (answers remembered),
16 keep-alive connections from two load processes (``bench/http_load.py``) drive ``/api/clients/platforms``
(authentication only: the ceiling of an authenticated route) and each results route over ``companies``
clients, in alternating rounds, so a neighbour that slows the machine slows them alike; the ratio is a route's
answers per second over the static route's. Cold (``TALLY_ROLLUP_CACHE_CELLS=0`` and
``TALLY_ANSWER_CACHE_BYTES=0``: every rollup computed, nothing remembered but the period calendar), one
connection times sequential requests for random clients, each alternating with the same period lookup and
rollup run in this process on ``ParquetMarts`` (the raw query, no HTTP, auth, app database or response model);
the ratio is the HTTP p50 over the raw p50. Targets: throughput >= 0.5, cold <= 2.0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from api.auth import mint_token
from bench.http_load import drive, http_request
from tally.child_processes import free_port
from tally.settings import Settings
from warehouse.results import PeriodQuery
from warehouse.serving import MartSession, ParquetMarts

ROOT = Path(__file__).resolve().parents[1]
STATIC = "/api/clients/platforms"
RESULTS_ROUTES = ("/results", "/results/campaigns", "/results/campaigns/daily")
TARGET_THROUGHPUT = 0.5
TARGET_COLD = 2.0


class Route(Protocol):
    """A results route as ``bench/api.py`` describes it: its path, the field its answer must fill, its raw query."""

    path: str
    field: str
    floor: Callable[[MartSession, str, PeriodQuery], list[dict[str, Any]]]


@dataclass(frozen=True)
class ServicePlan:
    """What to run: worker counts, load rounds and their length, the period asked for."""

    workers: tuple[int, ...]
    rounds: int
    seconds: float
    query: PeriodQuery


def api_environment(settings: Settings, cold: bool) -> dict[str, str]:
    """The environment of a ``tally api`` serving ``settings`` (inherited ``TALLY_*`` dropped), cold or not."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TALLY_", "PROMETHEUS_"))}
    env.update(
        TALLY_DATA_DIR=str(settings.data_dir),
        TALLY_APP_DATABASE_URL=settings.resolved_app_database_url,
        TALLY_JWT_SECRET=settings.jwt_secret.get_secret_value() if settings.jwt_secret else "",
        TALLY_ENCRYPTION_KEYS=settings.encryption_keys.get_secret_value() if settings.encryption_keys else "",
        TALLY_ROLLUP_CACHE_CELLS="0" if cold else str(settings.rollup_cache_cells),
        TALLY_ANSWER_CACHE_BYTES="0" if cold else str(settings.answer_cache_bytes),
    )
    return env


@contextmanager
def tally_api(settings: Settings, workers: int, cold: bool) -> Iterator[int]:
    """``tally api --workers N`` on a free port until the block ends; yields the port once ``/readyz`` is 200."""
    port = free_port()
    command = [sys.executable, "-m", "tally.cli", "api", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        cwd=ROOT,
        env=api_environment(settings, cold),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"tally api --workers {workers} did not become ready (exit code {process.poll()})")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def route_path(route: str, company: str, query: PeriodQuery) -> str:
    """A results route's path and query for one client."""
    return f"/api/clients/{company}{route}?period_type={query.period_type}&period_end={query.period_end}"


def throughput(port: int, token: str, plan: ServicePlan, companies: list[str]) -> dict[str, float]:
    """Answers per second of the static route and of each results route, summed over alternating rounds."""
    headers = {"Authorization": f"Bearer {token}"}
    requests = {STATIC: [http_request("127.0.0.1", port, STATIC, headers)]} | {
        route: [
            http_request("127.0.0.1", port, route_path(route, company, plan.query), headers) for company in companies
        ]
        for route in RESULTS_ROUTES
    }
    for paths in requests.values():  # every worker answers every client once before anything is timed
        drive("127.0.0.1", port, paths, seconds=1.0, warmup=1.0)
    answered = dict.fromkeys(requests, 0)
    seconds = dict.fromkeys(requests, 0.0)
    for _ in range(plan.rounds):
        for name, paths in requests.items():
            result = drive("127.0.0.1", port, paths, seconds=plan.seconds, warmup=0.3)
            if result.errors:
                raise SystemExit(f"{name}: {result.errors} answers were not 200")
            answered[name] += result.answered
            seconds[name] += result.seconds
    return {name: answered[name] / seconds[name] for name in requests}


def cold_ratios(
    port: int, token: str, plan: ServicePlan, marts: ParquetMarts, routes: Sequence[Route], companies: list[str]
) -> dict[str, tuple[float, float]]:
    """Per results route, the HTTP p50 and the raw query p50 in ms, each HTTP request alternating with a raw one."""
    found: dict[str, tuple[float, float]] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as http:
        for route in routes:
            http_seconds: list[float] = []
            raw_seconds: list[float] = []
            for company in companies:
                started = time.perf_counter()
                response = http.get(route_path(route.path, company, plan.query))
                http_seconds.append(time.perf_counter() - started)
                if response.status_code != 200 or not response.json().get(route.field):
                    raise SystemExit(f"{route.path} for {company}: {response.status_code} {response.text[:200]}")
                started = time.perf_counter()
                with marts.session(company) as session:
                    route.floor(session, company, plan.query)
                raw_seconds.append(time.perf_counter() - started)
            found[route.path] = (median_ms(http_seconds), median_ms(raw_seconds))
    return found


def median_ms(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[len(ordered) // 2] * 1000


def run_service_benchmark(
    settings: Settings, plan: ServicePlan, routes: Sequence[Route], cycled: list[str], cold_companies: list[str]
) -> bool:
    """Print both ratios for each worker count; whether every target was met. ``cycled`` are the clients the
    load goes round, ``cold_companies`` the random clients of the cold requests."""
    token = mint_token(settings, "bench", ["clients:view"], ["*"], ttl_seconds=24 * 3600)
    met = True
    print(f"tally api under load: {os.cpu_count()} cores, load average before {load_average()}")
    for workers in plan.workers:
        with tally_api(settings, workers, cold=False) as port:
            rates = throughput(port, token, plan, cycled)
        marts = ParquetMarts(settings.serving_dir)
        try:
            with tally_api(settings, workers, cold=True) as port:
                cold = cold_ratios(port, token, plan, marts, routes, cold_companies)
        finally:
            marts.close()
        print(f"--workers {workers}: {STATIC} {rates[STATIC]:.0f} req/s (16 connections, {len(cycled)} clients cycled)")
        for route in RESULTS_ROUTES:
            ratio = rates[route] / rates[STATIC]
            http_p50, raw_p50 = cold[route]
            cold_ratio = http_p50 / raw_p50
            met &= ratio >= TARGET_THROUGHPUT and cold_ratio <= TARGET_COLD
            print(
                f"  {route:<25} {rates[route]:6.0f} req/s = {ratio:4.2f} of static (>= {TARGET_THROUGHPUT} "
                f"{'met' if ratio >= TARGET_THROUGHPUT else 'NOT MET'}); cold p50 {http_p50:6.2f} ms = "
                f"{cold_ratio:4.2f}x the raw query's {raw_p50:.2f} ms (<= {TARGET_COLD} "
                f"{'met' if cold_ratio <= TARGET_COLD else 'NOT MET'})"
            )
    print(f"load average after {load_average()} (other processes share these cores)")
    return met


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}/{five:.1f}/{fifteen:.1f} (1/5/15 min)"
