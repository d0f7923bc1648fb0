"""Results read latency: the three results routes over HTTP on a 200-client warehouse, against their floor.

The API answers a client's results from that client's published Parquet files, so a request should cost what
one client's data costs, whatever the number of clients. This builds a synthetic warehouse of 200 clients x 5
platforms x 20 campaigns x 400 days (campaign_daily filled with DuckDB SQL, metric_daily built by the real
model), publishes it with the real ``publish()``, serves the real app with uvicorn in a separate process (so the
load generator does not share the server's GIL) and times sequential requests from one keep-alive client to

    /api/clients/{id}/results, /results/campaigns and /results/campaigns/daily

for random clients, default month period ending on the last data day. Each warehouse is served twice: as
configured, where the API remembers each answer until that client's marts are published again (so a client's
first request computes it and the next ones read it), and cold, with ``TALLY_ROLLUP_CACHE_CELLS=0``, where
every request runs the rollup. Both are reported, with how many timed requests were a client's first. Beside
each route it prints its floor: the same period lookup and rollup run in this process on ``ParquetMarts``,
uncached, with no HTTP, auth, app database or response models. A 10-client warehouse of the same shape is
served beside it and its requests are interleaved with the 200-client ones (200-client p50 over 10-client p50
shows whether latency stays flat as clients are added, on the same machine at the same moments), and
``/results`` throughput is compared with a bare endpoint of the same app, interleaved likewise. Targets: p50 <
15 ms and p99 < 50 ms per route; 200-client p50 within 1.3x of the 10-client p50.

First, on the 200-client warehouse, ``bench/api_service.py`` runs the real ``tally api --workers N`` for one and
two workers and prints each results route's throughput under 16 connections as a ratio of the authenticated
static route ``/api/clients/platforms``, and the cold p50 as a ratio of the raw rollup query (targets >= 0.5 and
<= 2.0); ``--service-only`` stops there.

    .venv/bin/python -m bench.api [--requests 2000] [--small-requests 500] [--floor-requests 500]
                                  [--cache-cells 4000000] [--quick] [--service-only] [--workers 1,2]
                                  [--rounds 3] [--seconds 3] [--service-clients 50] [--cold-requests 200]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import secrets
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx

# Run as a script, Python puts bench/ first on the path, where this very file would shadow the api package.
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != BENCH_DIR]
sys.path.insert(0, str(BENCH_DIR.parent))

from api.auth import mint_token  # noqa: E402
from bench.api_service import ServicePlan, run_service_benchmark  # noqa: E402
from pipelines.registry import PLATFORMS as REGISTRY_PLATFORMS  # noqa: E402
from tally.demo import last_full_month_end  # noqa: E402
from tally.settings import Settings  # noqa: E402
from warehouse.app_database import upgrade  # noqa: E402
from warehouse.freshness import PLATFORM_KINDS_IN_SQL  # noqa: E402
from warehouse.models import model_sql, replace_table  # noqa: E402
from warehouse.results import PERIOD_TYPES, PeriodQuery, load_period  # noqa: E402
from warehouse.serving import MartSession, ParquetMarts, publish  # noqa: E402
from warehouse.vault import generate_key  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Three real ad platforms and two stand-ins, for the five platforms per client of the benchmark's shape; the
# rollups never look at the name. google_ads reports no reach, as the real one.
PLATFORMS = ("meta_ads", "google_ads", "tiktok_ads", "pinterest_ads", "snapchat_ads")
CAMPAIGNS = 20
DAYS = 400
TARGET_P50_MS = 15.0
TARGET_P99_MS = 50.0
TARGET_FLATNESS = 1.3
PERMISSIONS = ["clients:view", "clients:update"]


def company_id(index: int) -> str:
    """The id of the client at a zero-based index: ``client-001`` first."""
    return f"client-{index + 1:03d}"


def last_data_day() -> date:
    """The last day of the previous month (UTC): a month period ending on it is a whole month, the costly case."""
    return last_full_month_end(datetime.now(UTC).date())


def campaign_daily_sql(clients: int, end: date) -> str:
    """Every client x platform x campaign x day with deterministic pseudo-random delivery, in USD.

    Each row's numbers come from one ``hash()`` of its coordinates, sliced into independent fractions, so two
    runs (and the 200- and 10-client warehouses) hold the same rows for the same client.
    """
    platforms = ", ".join(f"({index}, '{name}')" for index, name in enumerate(PLATFORMS))
    return f"""
with platforms (p, platform) as (values {platforms}),

-- The 20,000 or fewer campaigns with their names, formatted once rather than on each of their days.
campaigns as (
    select
        clients.range as c,
        platforms.p,
        campaigns.range as k,
        printf('client-%03d', clients.range + 1) as company_id,
        platforms.platform,
        printf('act-%03d-%d', clients.range + 1, platforms.p) as account_id,
        printf('cmp-%03d-%d-%02d', clients.range + 1, platforms.p, campaigns.range + 1) as campaign_id,
        printf('%s campaign %02d', platforms.platform, campaigns.range + 1) as campaign_name,
        case when campaigns.range % 7 = 0 then 'PAUSED' else 'ACTIVE' end as campaign_status,
        case when campaigns.range % 2 = 0 then 'SALES' else 'TRAFFIC' end as campaign_objective
    from range({clients}) as clients
    cross join platforms
    cross join range({CAMPAIGNS}) as campaigns
),

days as (
    select range as d, cast(date '{end.isoformat()}' - cast({DAYS - 1} - range as integer) as date) as date
    from range({DAYS})
),

fractions as (
    select
        campaigns.*,
        days.date,
        (hash(c, p, k, d) % 1000003) / 1000003e0 as r1,
        ((hash(c, p, k, d) >> 20) % 1000003) / 1000003e0 as r2,
        ((hash(c, p, k, d) >> 40) % 16381) / 16381e0 as r3
    from campaigns
    cross join days
),

delivery as (
    select
        *,
        (20 + 180 * r1) * (60 + 60 * r2) as impressions,
        (20 + 180 * r1) * (60 + 60 * r2) * (0.005 + 0.02 * r3) as clicks
    from fractions
)

select
    company_id,
    platform,
    account_id,
    campaign_id,
    date,
    campaign_name,
    campaign_status,
    campaign_objective,
    cast(250 as numeric(18, 6)) as daily_budget,
    cast(null as numeric(18, 6)) as lifetime_budget,
    cast(20 + 180 * r1 as numeric(18, 6)) as spend,
    cast(impressions as bigint) as impressions,
    cast(clicks as bigint) as clicks,
    cast(clicks * (0.01 + 0.05 * r2) as numeric(18, 6)) as conversions,
    cast(clicks * (0.01 + 0.05 * r2) * (30 + 70 * r1) as numeric(18, 6)) as conversion_value,
    case when platform = 'google_ads' then null else cast(impressions * (0.5 + 0.3 * r3) as bigint) end as reach,
    'USD' as currency,
    'UTC' as account_timezone
from delivery
"""


def daily_sales_sql(clients: int, end: date) -> str:
    """One Shopify row per client and day, with the columns and types of ``sql/staging/empty/daily_sales.sql``."""
    return f"""
select
    printf('client-%03d', clients.range + 1) as company_id,
    cast(date '{end.isoformat()}' - cast({DAYS - 1} - days.range as integer) as date) as date,
    cast(20 + hash(clients.range, days.range, 'orders') % 80 as bigint) as orders,
    cast(1000 + (hash(clients.range, days.range, 'revenue') % 900000) / 100.0 as numeric(18, 6)) as revenue,
    cast('USD' as varchar) as currency
from range({clients}) as clients
cross join range({DAYS}) as days
"""


def traffic_daily_sql(clients: int, end: date) -> str:
    """One GA4 row per client and day, with the columns and types of ``sql/staging/empty/traffic_daily.sql``."""
    return f"""
select
    printf('client-%03d', clients.range + 1) as company_id,
    cast(date '{end.isoformat()}' - cast({DAYS - 1} - days.range as integer) as date) as date,
    cast('(not set)' as varchar) as campaign,
    cast('google / cpc' as varchar) as source_medium,
    cast(500 + hash(clients.range, days.range, 'sessions') % 4500 as bigint) as sessions,
    cast(10 + hash(clients.range, days.range, 'key_events') % 200 as numeric(18, 6)) as key_events,
    cast(1000 + (hash(clients.range, days.range, 'ga4') % 900000) / 100.0 as numeric(18, 6)) as ga4_revenue,
    cast('USD' as varchar) as currency
from range({clients}) as clients
cross join range({DAYS}) as days
"""


@dataclass(frozen=True)
class Built:
    """What building and publishing one synthetic warehouse took."""

    clients: int
    campaign_rows: int
    metric_rows: int
    build_seconds: float
    publish_seconds: float
    republish_seconds: float


def build_warehouse(settings: Settings, clients: int, end: date) -> Built:
    """Fill the DuckDB warehouse of ``settings`` with the synthetic marts, then publish them for the API.

    campaign_daily goes through ``replace_table`` so it is stored in (company_id, date) order as the real
    refresh stores it (publishing relies on that order to skip other companies); metric_daily is the real model.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.duckdb_path)) as warehouse:
        started = time.perf_counter()
        warehouse.execute("create schema staging")
        warehouse.execute("create schema marts")
        warehouse.execute(f"create table staging.stg_shopify__daily_sales as {daily_sales_sql(clients, end)}")
        warehouse.execute(f"create table staging.stg_ga4__traffic_daily as {traffic_daily_sql(clients, end)}")
        replace_table(warehouse, "marts", "campaign_daily", campaign_daily_sql(clients, end))
        replace_table(warehouse, "marts", "metric_daily", model_sql("marts", "metric_daily.sql"))
        build_seconds = time.perf_counter() - started
        (campaign_rows,) = warehouse.execute("select count(*) from marts.campaign_daily").fetchone() or (0,)
        (metric_rows,) = warehouse.execute("select count(*) from marts.metric_daily").fetchone() or (0,)
        started = time.perf_counter()
        report = publish(warehouse, settings.serving_dir)
        publish_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = publish(warehouse, settings.serving_dir)
        republish_seconds = time.perf_counter() - started
    if report.written != clients or again.written != 0:
        raise SystemExit(f"published {report.written} and then {again.written} companies, expected {clients} and 0")
    return Built(clients, campaign_rows, metric_rows, build_seconds, publish_seconds, republish_seconds)


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """Run ``bench.api_server`` for these settings in a child process; yields its base URL once it answers.

    The child gets its own session so a Ctrl-C reaches only this process, which then stops the child here.
    Inherited ``TALLY_*`` variables are dropped so the server reads exactly these settings.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("TALLY_")}
    env.update(
        TALLY_DATA_DIR=str(settings.data_dir),
        TALLY_APP_DATABASE_URL=settings.resolved_app_database_url,
        TALLY_JWT_SECRET=settings.jwt_secret.get_secret_value() if settings.jwt_secret else "",
        TALLY_ENCRYPTION_KEYS=settings.encryption_keys.get_secret_value() if settings.encryption_keys else "",
        TALLY_ROLLUP_CACHE_CELLS=str(settings.rollup_cache_cells),
        TALLY_ANSWER_CACHE_BYTES=str(settings.answer_cache_bytes),
    )
    if settings.warehouse_url:
        env["TALLY_WAREHOUSE_URL"] = settings.warehouse_url
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.api_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        port = process.stdout.readline().strip() if ready else ""
        if not port.isdigit():
            raise SystemExit(f"the API server did not report its port (exit code {process.poll()})")
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_answering(url: str, process: subprocess.Popen[str]) -> None:
    """Poll the bare endpoint until it answers 200, the child dies, or 60 seconds pass."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the API server exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/bench/bare", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit("the API server did not answer within 60 s")


# The rollups' settled days as a client loaded through yesterday has them, for the floors' queries.
SETTLED = {
    **{f"{platform}_settled_through": date.today() - timedelta(days=29) for platform in REGISTRY_PLATFORMS},
    **{f"{kind}_settled_through": date.today() - timedelta(days=31) for kind in PLATFORM_KINDS_IN_SQL},
}


def results_floor(session: MartSession, company: str, query: PeriodQuery) -> list[dict[str, Any]]:
    """What GET /results asks the marts: the period, then the metrics rollup."""
    period = load_period(session, query)
    return session.rows("results_metrics", company_id=company, **period.bounds, **SETTLED)


def campaigns_floor(session: MartSession, company: str, query: PeriodQuery) -> list[dict[str, Any]]:
    """What GET /results/campaigns asks the marts with its defaults: every platform, by spend descending."""
    period = load_period(session, query)
    return session.rows(
        "campaigns", company_id=company, platform=None, sort_by="spend", sort_dir="desc", **period.bounds
    )


def daily_floor(session: MartSession, company: str, query: PeriodQuery) -> list[dict[str, Any]]:
    """What GET /results/campaigns/daily asks the marts: the period, then every campaign's spend per day."""
    period = load_period(session, query)
    return session.rows("campaign_daily_spend", company_id=company, platform=None, **period.bounds, **SETTLED)


@dataclass(frozen=True)
class Route:
    """One results route: its path, the part of its answer that must not be empty, and its floor."""

    path: str
    field: str
    floor: Callable[[MartSession, str, PeriodQuery], list[dict[str, Any]]]

    def url(self, company: str) -> str:
        """The route's path for one company, as the product's client calls it."""
        return f"/api/clients/{company}{self.path}"


ROUTES = [
    Route("/results", "metrics", results_floor),
    Route("/results/campaigns", "campaigns", campaigns_floor),
    Route("/results/campaigns/daily", "daily", daily_floor),
]


def percentile_ms(seconds: list[float], fraction: float) -> float:
    """Nearest-rank percentile of durations in seconds, in milliseconds; NaN when there are none."""
    ordered = sorted(seconds)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] * 1000 if ordered else math.nan


@dataclass(frozen=True)
class Timings:
    """Seconds of each measured call."""

    seconds: list[float]

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        return percentile_ms(self.seconds, fraction)

    @property
    def p50(self) -> float:
        """The median, in milliseconds: the first target."""
        return self.percentile_ms(0.50)

    @property
    def p99(self) -> float:
        """The tail, in milliseconds: the second target."""
        return self.percentile_ms(0.99)

    @property
    def per_second(self) -> float:
        """Sequential throughput: calls over the time spent inside them (client-side checks excluded)."""
        return len(self.seconds) / sum(self.seconds)


def pick_companies(clients: int, count: int, seed: int) -> list[str]:
    """A seeded random sequence of client ids, the same for a route's HTTP run and its floor."""
    chooser = random.Random(seed)
    return [company_id(chooser.randrange(clients)) for _ in range(count)]


# One timed call for a company: returns the seconds it took, and stops the run on a bad answer.
Call = Callable[[str], float]


def http_call(client: httpx.Client, path: Callable[[str], str], field: str, params: dict[str, str]) -> Call:
    """A GET whose answer must be 200 with ``field`` not empty; only the round trip is timed, not the check."""

    def call(company: str) -> float:
        started = time.perf_counter()
        response = client.get(path(company), params=params)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"GET {response.url} answered {response.status_code}: {response.text[:300]}")
        if not response.json().get(field):
            raise SystemExit(f"GET {response.url} answered without {field}: {response.text[:300]}")
        return elapsed

    return call


def floor_call(marts: ParquetMarts, route: Route, query: PeriodQuery) -> Call:
    """The route's session, period lookup and rollup in this process, timed as ``http_call`` times the route."""

    def call(company: str) -> float:
        started = time.perf_counter()
        with marts.session(company) as session:
            rows = route.floor(session, company, query)
        elapsed = time.perf_counter() - started
        if not rows:
            raise SystemExit(f"the {route.path} rollups returned no rows for {company}")
        return elapsed

    return call


def time_interleaved(calls: dict[str, tuple[Call, list[str]]], warmup: int) -> dict[str, Timings]:
    """Warm each stream of calls up, then time them all spread evenly through one sequence.

    The streams being compared (200 against 10 clients, ``/results`` against the bare endpoint) then share
    whatever the machine does meanwhile: a neighbour that slows the host down halfway slows them alike, and
    their ratios stay fair even when the absolute figures move.
    """
    for call, companies in calls.values():
        for company in companies[:warmup]:
            call(company)
    schedule = sorted(
        (position / (len(companies) - warmup), name, company)
        for name, (_, companies) in calls.items()
        for position, company in enumerate(companies[warmup:])
    )
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _, name, company in schedule:
        seconds[name].append(calls[name][0](company))
    return {name: Timings(values) for name, values in seconds.items()}


@dataclass(frozen=True)
class Measured:
    """Every timing: per route, HTTP and floor for the large and the small warehouse; the bare endpoint."""

    http: dict[str, dict[str, Timings]]
    floor: dict[str, dict[str, Timings]]
    bare: Timings


@dataclass(frozen=True)
class Plan:
    """How many calls to time, on which warehouses, for which period."""

    query: PeriodQuery
    large: int
    small: int
    requests: int
    small_requests: int
    floor_requests: int
    warmup: int
    seed: int


def measure(plan: Plan, settings: dict[str, Settings]) -> Measured:
    """Serve the warehouses at once and time each route on each server, interleaved, then their floors likewise.

    ``settings`` maps "large" and "small" to each warehouse's server as configured, and "large cold" and "small
    cold" to the same warehouses served with no rollup cache. The bare endpoint is interleaved with ``/results``
    on the large warehouse's server.
    """
    sizes = {"large": plan.large, "large cold": plan.large, "small": plan.small, "small cold": plan.small}
    counts = {name: plan.requests if name.startswith("large") else plan.small_requests for name in sizes}
    params = {"period_type": plan.query.period_type, "period_end": plan.query.period_end.isoformat()}
    http: dict[str, dict[str, Timings]] = {}
    floor: dict[str, dict[str, Timings]] = {}
    with ExitStack() as stack:
        clients = {}
        for name, each in settings.items():
            token = mint_token(each, "bench", PERMISSIONS, ["*"], ttl_seconds=24 * 3600)
            clients[name] = stack.enter_context(
                httpx.Client(
                    base_url=stack.enter_context(serve(each)), headers={"Authorization": f"Bearer {token}"}, timeout=60
                )
            )
        for offset, route in enumerate(ROUTES):
            calls = {
                name: (
                    http_call(clients[name], route.url, route.field, params),
                    pick_companies(sizes[name], plan.warmup + counts[name], plan.seed + offset),
                )
                for name in sizes
            }
            if route is ROUTES[0]:
                bare = http_call(clients["large"], lambda _: "/bench/bare", "ok", {})
                calls["bare"] = (bare, ["-"] * (plan.warmup + plan.requests))
            http[route.path] = time_interleaved(calls, plan.warmup)
    # The floor is the rollup itself, so it runs with no answer cache (the period calendar is always remembered).
    marts = {name: ParquetMarts(settings[name].serving_dir) for name in ("large", "small")}
    try:
        for offset, route in enumerate(ROUTES):
            calls = {
                name: (
                    floor_call(marts[name], route, plan.query),
                    pick_companies(sizes[name], plan.warmup + plan.floor_requests, plan.seed + offset),
                )
                for name in marts
            }
            floor[route.path] = time_interleaved(calls, plan.warmup)
    finally:
        for each in marts.values():
            each.close()
    return Measured(http, floor, http[ROUTES[0].path]["bare"])


def verdict(met: bool) -> str:
    """A target's outcome, in capitals when missed so it stands out."""
    return "met" if met else "NOT MET"


def first_asks(plan: Plan, offset: int) -> int:
    """Timed requests of a route on the large warehouse that were the first for their client: computed, not
    remembered (the sequence is the seeded one ``measure`` used)."""
    companies = pick_companies(plan.large, plan.warmup + plan.requests, plan.seed + offset)
    seen = set(companies[: plan.warmup])
    first = 0
    for company in companies[plan.warmup :]:
        first += company not in seen
        seen.add(company)
    return first


def report(measured: Measured, plan: Plan) -> None:
    """The latency table, flatness, throughput and targets."""
    servers = {
        "large": f"{plan.large}",
        "large cold": f"{plan.large} cold",
        "small": f"{plan.small}",
        "small cold": f"{plan.small} cold",
    }
    print(
        f"{'route':<25} {'clients':>10} {'HTTP p50':>9} {'HTTP p99':>9} {'floor p50':>10} {'floor p99':>10} "
        f"{'HTTP/floor p50':>15}"
    )
    for route in ROUTES:
        for name, label in servers.items():
            http, floor = (
                measured.http[route.path][name],
                measured.floor[route.path][name.split()[0]],
            )
            print(
                f"{route.path:<25} {label:>10} {http.p50:>9.2f} {http.p99:>9.2f} {floor.p50:>10.2f} "
                f"{floor.p99:>10.2f} {http.p50 / floor.p50:>14.1f}x"
            )
    print(
        "  (the API as served remembers each answer until its client's marts are published again; cold is the same "
        "warehouse served with TALLY_ROLLUP_CACHE_CELLS=0, every answer computed; the floor is the rollup "
        "in-process, uncached)"
    )
    for offset, route in enumerate(ROUTES):
        print(f"  {route.path}: {first_asks(plan, offset)} of {plan.requests} timed requests were a client's first")
    print()
    print(f"flatness, {plan.large}-client p50 / {plan.small}-client p50 over HTTP (cold, then floor, in brackets):")
    flatness: dict[str, dict[str, float]] = {"large": {}, "large cold": {}}
    for route in ROUTES:
        http, floor = measured.http[route.path], measured.floor[route.path]
        flatness["large"][route.path] = http["large"].p50 / http["small"].p50
        flatness["large cold"][route.path] = http["large cold"].p50 / http["small cold"].p50
        print(
            f"  {route.path:<25} {flatness['large'][route.path]:>5.2f}x  "
            f"({flatness['large cold'][route.path]:.2f}x, {floor['large'].p50 / floor['small'].p50:.2f}x)"
        )
    print()
    print(f"sequential throughput over one keep-alive connection, interleaved ({plan.large} clients):")
    bare, results, cold = measured.bare, measured.http["/results"]["large"], measured.http["/results"]["large cold"]
    print(f"  /bench/bare        {bare.per_second:>7.0f} req/s  (p50 {bare.p50:.2f} ms, p99 {bare.p99:.2f} ms)")
    print(f"  /results           {results.per_second:>7.0f} req/s  (cold {cold.per_second:.0f} req/s)")
    print(
        f"  bare / results: {bare.per_second / results.per_second:.1f}x (cold {bare.per_second / cold.per_second:.1f}x)"
    )
    print()
    for name, label in (("large", "as served"), ("large cold", "cold, every answer computed")):
        print(f"targets ({plan.large} clients, HTTP, {label}):")
        for route in ROUTES:
            http = measured.http[route.path][name]
            p50, p99 = verdict(http.p50 < TARGET_P50_MS), verdict(http.p99 < TARGET_P99_MS)
            line = (
                f"  {route.path:<25} p50 {http.p50:6.2f} < {TARGET_P50_MS:.0f} ms {p50:<8}"
                f"p99 {http.p99:6.2f} < {TARGET_P99_MS:.0f} ms {p99:<8}"
            )
            flat = flatness[name][route.path]
            line += f"flatness {flat:4.2f} <= {TARGET_FLATNESS}x {verdict(flat <= TARGET_FLATNESS)}"
            print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per route, large warehouse")
    parser.add_argument("--small-requests", type=int, default=500, help="timed requests per route, small warehouse")
    parser.add_argument("--floor-requests", type=int, default=500, help="timed in-process calls per route and size")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls of each kind first (default 100)")
    parser.add_argument("--clients", type=int, default=200, help="clients of the large warehouse (default 200)")
    parser.add_argument("--small-clients", type=int, default=10, help="clients of the small warehouse (default 10)")
    parser.add_argument("--period-type", choices=PERIOD_TYPES, default="month")
    parser.add_argument("--period-end", type=date.fromisoformat, help="YYYY-MM-DD (default: the last data day)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cache-cells",
        type=int,
        default=4_000_000,
        help="TALLY_ROLLUP_CACHE_CELLS of the served warehouses (default 4,000,000: a month of all three routes "
        "for 200 clients is about 3,000,000)",
    )
    parser.add_argument("--quick", action="store_true", help="200 requests, 100 of the others, 20 warm-up")
    parser.add_argument("--service-only", action="store_true", help="only the tally api --workers ratios")
    parser.add_argument("--workers", default="1,2", help="worker counts of the service ratios (default 1,2)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating load rounds per route (default 3)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of each load round (default 3)")
    parser.add_argument("--service-clients", type=int, default=50, help="clients the load goes round (default 50)")
    parser.add_argument("--cold-requests", type=int, default=200, help="cold requests per route (default 200)")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.small_requests, args.floor_requests, args.warmup = 200, 100, 100, 20
    end = last_data_day()
    plan = Plan(
        query=PeriodQuery(args.period_type, args.period_end or end),
        large=args.clients,
        small=args.small_clients,
        requests=args.requests,
        small_requests=args.small_requests,
        floor_requests=args.floor_requests,
        warmup=args.warmup,
        seed=args.seed,
    )
    print(
        f"{len(PLATFORMS)} platforms x {CAMPAIGNS} campaigns x {DAYS} days per client "
        f"({end - timedelta(days=DAYS - 1)} to {end}), USD"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="tally-bench-api-") as scratch:
            root = Path(scratch)
            app_database_url = f"sqlite:///{root / 'app.db'}"
            upgrade(app_database_url)
            secret, key = secrets.token_urlsafe(48), generate_key()
            settings = {}
            for name, clients in (("large", plan.large), ("small", plan.small)):
                settings[name] = Settings(
                    _env_file=None,
                    data_dir=root / f"clients-{clients}",
                    app_database_url=app_database_url,
                    jwt_secret=secret,
                    encryption_keys=key,
                    rollup_cache_cells=args.cache_cells,
                )
                built = build_warehouse(settings[name], clients, end)
                print(
                    f"{clients:>3} clients: built {built.campaign_rows:,} campaign_daily and {built.metric_rows:,} "
                    f"metric_daily rows in {built.build_seconds:.1f} s; published in {built.publish_seconds:.1f} s "
                    f"({built.publish_seconds / clients * 1000:.0f} ms per client); "
                    f"the next publish found them unchanged in {built.republish_seconds:.1f} s"
                )
            print()
            service = ServicePlan(
                workers=tuple(int(count) for count in args.workers.split(",")),
                rounds=args.rounds,
                seconds=args.seconds,
                query=plan.query,
            )
            cycled = [company_id(index) for index in range(min(args.service_clients, plan.large))]
            cold_companies = pick_companies(plan.large, args.cold_requests, plan.seed)
            run_service_benchmark(settings["large"], service, ROUTES, cycled, cold_companies)
            if args.service_only:
                return 0
            for name in ("large", "small"):
                settings[f"{name} cold"] = settings[name].model_copy(
                    update={"rollup_cache_cells": 0, "answer_cache_bytes": 0}
                )
            measured = measure(plan, settings)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print()
    print(
        f"latency in ms, random clients, period {plan.query.period_type} ending {plan.query.period_end}; timed calls "
        f"per route: HTTP {plan.requests} ({plan.large} clients) and {plan.small_requests} ({plan.small} clients), "
        f"floor {plan.floor_requests} each, all after {plan.warmup} untimed; rollup cache {args.cache_cells:,} cells"
    )
    report(measured, plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
