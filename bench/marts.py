"""Marts cost of one client's refresh as clients are added: ``refresh_marts(settings, [client])`` at N and N/10.

A client's refresh deletes and re-inserts that client's mart rows and publishes that client's Parquet only, so
its cost should depend on that client's rows, not on how many clients share the warehouse. This builds a DuckDB
warehouse of synthetic raw tables for N clients, and another for N/10, each client with 5 platforms (Meta,
Google and TikTok Ads with 20 campaigns each, GA4 with 20 campaign/source rows, Shopify with one row) x 400
days, filled by DuckDB ``range()`` SQL in the columns the staging models read (``--layout`` says in which order
the rows lie). For each warehouse it times the full rebuild and publish of every client
(``refresh_marts(settings)``, what a model change costs), then one client's refresh and publish several times,
with that client's last day restated before each, so every publish writes a new version; the two warehouses'
refreshes alternate, and the medians count. It prints the figures, then last

    marts_per_client_growth=<median at N / median at N/10>

Target: <= 1.5 at ``--clients 200``.

    .venv/bin/python -m bench.marts [--clients 200] [--repeats 7] [--layout client|day]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb

# bench/ is not an installed package: run as a script, this file needs the repo root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tally.settings import Settings  # noqa: E402
from warehouse.serving import refresh_marts  # noqa: E402

AD_PLATFORMS = ("meta_ads", "google_ads", "tiktok_ads")
CAMPAIGNS = 20
DAYS = 400
END = date(2026, 11, 30)
TARGET_GROWTH = 1.5
# How raw rows lie in the tables. "client": each client's rows together, as its history backfill appends them
# (the default); "day": every client's rows of a day together, as if the whole history had arrived by daily
# loads of all clients, the worst case for DuckDB's zone maps, which then skip no row group of another client.
LAYOUTS = {"client": "company_id, date", "day": "date, company_id"}


def company_id(index: int) -> str:
    """The id of the client at a zero-based index: ``client-001`` first."""
    return f"client-{index + 1:03d}"


def grid(clients: int, rows_per_day: int, layout: str) -> str:
    """Every client x row x day, with a pseudo-random fraction ``r`` of each, as one ``from`` clause in ``layout``."""
    first = END - timedelta(days=DAYS - 1)
    return f"""
from (
    select
        printf('client-%03d', clients.range + 1) as company_id,
        rows.range as k,
        cast(date '{first.isoformat()}' + cast(days.range as integer) as date) as date,
        (hash(clients.range, rows.range, days.range) % 1000003) / 1000003e0 as r
    from range({clients}) as clients
    cross join range({rows_per_day}) as rows
    cross join range({DAYS}) as days
) as grid
order by {LAYOUTS[layout]}
"""


def campaign_daily_sql(platform: str, clients: int, layout: str) -> str:
    """A raw ad platform's campaign-days: Meta and TikTok send strings, Google micros and numbers."""
    campaign = "printf('%s-%s-%02d', company_id, '" + platform + "', k)"
    if platform == "google_ads":
        metrics = """
    cast(cast((20 + 180 * r) * 1000000 as bigint) as varchar) as metrics_cost_micros,
    cast(cast(5000 * r as bigint) as varchar) as metrics_impressions,
    cast(cast(100 * r as bigint) as varchar) as metrics_clicks,
    5 * r as metrics_conversions,
    200 * r as metrics_conversions_value,"""
    else:
        metrics = """
    cast(round(20 + 180 * r, 2) as varchar) as spend,
    cast(cast(5000 * r as bigint) as varchar) as impressions,
    cast(cast(100 * r as bigint) as varchar) as clicks,
    cast(cast(5 * r as bigint) as varchar) as conversions,
    cast(round(200 * r, 2) as varchar) as conversion_value,
    cast(cast(3000 * r as bigint) as varchar) as reach,"""
    return f"""
select
    company_id, printf('act-%s', company_id) as account_id, {campaign} as campaign_id, date,
    printf('campaign %02d', k) as campaign_name,{metrics}
    'USD' as currency, 'UTC' as account_timezone
{grid(clients, CAMPAIGNS, layout)}
"""


def campaigns_sql(platform: str, clients: int, layout: str) -> str:
    """A raw ad platform's campaigns (one per campaign: the grid's first day)."""
    campaign = "printf('%s-%s-%02d', company_id, '" + platform + "', k)"
    names = {
        "meta_ads": "name, 'ACTIVE' as status, 'OUTCOME_SALES' as objective, '5000' as daily_budget, "
        "cast(null as varchar) as lifetime_budget",
        "google_ads": "name as campaign_name, 'ENABLED' as campaign_status, "
        "'SEARCH' as campaign_advertising_channel_type, 'DAILY' as campaign_budget_period, "
        "'50000000' as campaign_budget_amount_micros, cast(null as varchar) as campaign_budget_total_amount_micros",
        "tiktok_ads": "name as campaign_name, 'ENABLE' as operation_status, 'CONVERSIONS' as objective_type, "
        "'BUDGET_MODE_DAY' as budget_mode, 50.0 as budget",
    }[platform]
    return f"""
select company_id, printf('act-%s', company_id) as account_id, campaign_id, {names}, 'USD' as currency
from (
    select company_id, date, {campaign} as campaign_id, printf('campaign %02d', k) as name
    {grid(clients, CAMPAIGNS, layout)}
)
where date = date '{(END - timedelta(days=DAYS - 1)).isoformat()}'
"""


def build_raw(path: Path, clients: int, layout: str) -> None:
    """The raw tables of ``clients`` synthetic clients, their rows stored in ``layout`` order."""
    with duckdb.connect(str(path)) as warehouse:
        for platform in AD_PLATFORMS:
            warehouse.execute(f"create schema raw_{platform}")
            warehouse.execute(
                f"create table raw_{platform}.campaign_daily as {campaign_daily_sql(platform, clients, layout)}"
            )
            warehouse.execute(f"create table raw_{platform}.campaigns as {campaigns_sql(platform, clients, layout)}")
        warehouse.execute("create schema raw_shopify")
        warehouse.execute(
            "create table raw_shopify.daily_sales as select company_id, date, cast(50 * r as bigint) as orders_count, "
            f"cast(round(5000 * r, 2) as varchar) as revenue, 'USD' as currency {grid(clients, 1, layout)}"
        )
        warehouse.execute("create schema raw_ga4")
        warehouse.execute(
            "create table raw_ga4.traffic_daily as select company_id, date, printf('campaign %02d', k) as "
            "session_campaign_name, 'google / cpc' as session_source_medium, cast(cast(900 * r as bigint) as varchar) "
            "as sessions, cast(round(20 * r, 1) as varchar) as key_events, cast(round(500 * r, 2) as varchar) as "
            f"total_revenue, 'USD' as currency {grid(clients, CAMPAIGNS, layout)}"
        )


def restate(path: Path, client: str, attempt: int) -> None:
    """The client's last day of Meta spend re-reported, as a morning's lookback load does."""
    with duckdb.connect(str(path)) as warehouse:
        warehouse.execute(
            "update raw_meta_ads.campaign_daily set spend = cast(? as varchar) where company_id = ? and date = ?",
            [f"{100 + attempt}.25", client, END],
        )


def timed(action: Callable[[], object]) -> float:
    """Seconds one call of ``action`` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def built_warehouse(clients: int, root: Path, layout: str, figures: dict[str, float]) -> Settings:
    """A warehouse of ``clients`` synthetic clients, modelled and published in full; records both timings."""
    settings = Settings(_env_file=None, data_dir=root / f"clients-{clients}")
    settings.data_dir.mkdir(parents=True)
    figures[f"raw_build_s_{clients}"] = round(timed(lambda: build_raw(settings.duckdb_path, clients, layout)), 2)
    figures[f"full_rebuild_and_publish_s_{clients}"] = round(timed(lambda: refresh_marts(settings)), 2)
    return settings


def client_refresh(settings: Settings, clients: int, attempt: int) -> float:
    """Seconds of one client's refresh and publish, after restating that client's last day."""
    client = company_id(clients // 2)
    restate(settings.duckdb_path, client, attempt)
    started = time.perf_counter()
    report = refresh_marts(settings, [client])
    seconds = time.perf_counter() - started
    if report.published is None or report.published.written != 1:
        raise SystemExit(f"the refresh of {client} published {report.published}, expected one new version")
    return seconds


def marts_per_client_growth(clients: int, repeats: int = 7, layout: str = "client") -> dict[str, float]:
    """One client's refresh + publish, median seconds at ``clients`` and at a tenth of them, and their ratio.

    The two warehouses' refreshes alternate, so whatever else the machine runs weighs on both alike.
    """
    counts = (max(1, clients // 10), clients)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tally-bench-marts-") as directory:
        warehouses = {count: built_warehouse(count, Path(directory), layout, figures) for count in counts}
        seconds: dict[int, list[float]] = {count: [] for count in counts}
        for attempt in range(repeats):
            for count, settings in warehouses.items():
                seconds[count].append(client_refresh(settings, count, attempt))
    for count, measured in seconds.items():
        figures |= {
            f"client_refresh_median_s_{count}": round(statistics.median(measured), 4),
            f"client_refresh_min_s_{count}": round(min(measured), 4),
            f"client_refresh_max_s_{count}": round(max(measured), 4),
        }
    growth = statistics.median(seconds[clients]) / statistics.median(seconds[counts[0]])
    return figures | {"marts_per_client_growth": round(growth, 3)}


def main() -> None:
    """Print every figure, then ``marts_per_client_growth=<y>`` last."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="client")
    args = parser.parse_args()
    figures = marts_per_client_growth(args.clients, args.repeats, args.layout)
    growth = figures.pop("marts_per_client_growth")
    for name, value in figures.items():
        print(f"{name}={value}")
    print(f"target_growth<={TARGET_GROWTH} {'met' if growth <= TARGET_GROWTH else 'MISSED'}")
    print(f"marts_per_client_growth={growth}")


if __name__ == "__main__":
    main()
