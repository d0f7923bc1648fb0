"""A client's marts refresh rewrites that client's rows and publishes that client only, on hand-written raw rows
whose totals the tests add up themselves; on PostgreSQL two clients' refreshes at once both commit.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tally.settings import Settings
from tests.databases import temporary_postgres_database
from tests.warehouse.raw_tables import (
    ACME_METRICS,
    ACME_RAW,
    SEP_1,
    delete_raw,
    globex_meta,
    globex_metrics,
    metric_rows,
    replace_raw,
    write_acme,
    write_raw,
)
from warehouse.models import query, run_models, warehouse_transaction
from warehouse.serving import CURRENT, refresh_marts

REPO_ROOT = Path(__file__).resolve().parents[2]
META = "raw_meta_ads.campaign_daily"
# acme's Spring campaign re-reports Sep 1 at 20.50 instead of 10.50: Sep 1 spend is 20.50 + 1.25 + 2.50.
ACME_RESTATED = [row | {"spend": "20.50"} if row["spend"] == "10.50" else row for row in ACME_RAW[META]]
ACME_RESTATED_METRICS = ACME_METRICS | {("spend", SEP_1, "USD"): Decimal("24.25")}
# acme's mart rows: 4 campaign-days (3 Meta, 1 Google) and one metric_daily row per ACME_METRICS entry.
ACME_MART_ROWS = 4 + len(ACME_METRICS)


def write_both(settings: Settings) -> None:
    """acme's raw rows and globex's one Meta campaign-day spending 100."""
    write_acme(settings)
    write_raw(settings, META, globex_meta("100"))


def test_a_clients_refresh_rewrites_its_rows_and_leaves_every_other_clients_rows(empty_warehouse: Settings) -> None:
    write_both(empty_warehouse)
    refresh_marts(empty_warehouse)
    replace_raw(empty_warehouse, META, "acme", ACME_RESTATED)
    replace_raw(empty_warehouse, META, "globex", globex_meta("250"))

    report = refresh_marts(empty_warehouse, ["acme"])
    assert (report.companies, report.rows) == (("acme",), ACME_MART_ROWS)
    assert metric_rows(empty_warehouse, "acme") == ACME_RESTATED_METRICS
    assert metric_rows(empty_warehouse, "globex") == globex_metrics("100")

    refresh_marts(empty_warehouse)
    assert metric_rows(empty_warehouse, "globex") == globex_metrics("250")
    assert metric_rows(empty_warehouse, "acme") == ACME_RESTATED_METRICS


def test_readers_see_the_clients_old_rows_until_its_refresh_commits(empty_warehouse: Settings) -> None:
    """Mid-refresh, with acme's rows deleted and re-inserted but not committed, a reader still sees all old rows."""
    write_both(empty_warehouse)
    refresh_marts(empty_warehouse, ["acme"])
    replace_raw(empty_warehouse, META, "acme", ACME_RESTATED)
    with warehouse_transaction(empty_warehouse) as warehouse:
        run_models(warehouse, ["acme"])
        assert metric_rows(empty_warehouse, "acme") == ACME_METRICS
    assert metric_rows(empty_warehouse, "acme") == ACME_RESTATED_METRICS


def test_a_platform_whose_raw_rows_vanished_leaves_the_clients_marts(empty_warehouse: Settings) -> None:
    write_both(empty_warehouse)
    refresh_marts(empty_warehouse, ["acme"])
    delete_raw(empty_warehouse, "raw_shopify.daily_sales", "acme")
    refresh_marts(empty_warehouse, ["acme"])
    without_store = {key: value for key, value in ACME_METRICS.items() if key[0] not in ("revenue", "orders")}
    assert metric_rows(empty_warehouse, "acme") == without_store


def test_a_platform_loaded_for_the_first_time_replaces_its_empty_stand_in(empty_warehouse: Settings) -> None:
    """The first refresh builds GA4's staging view as the empty stand-in; once GA4 is loaded it reads the rows."""
    for table, rows in ACME_RAW.items():
        if table != "raw_ga4.traffic_daily":
            write_raw(empty_warehouse, table, rows)
    first = refresh_marts(empty_warehouse, ["acme"])
    without_traffic = {key: value for key, value in ACME_METRICS.items() if key[0] not in ("sessions", "key_events")}
    assert metric_rows(empty_warehouse, "acme") == without_traffic
    assert not first.built["stg_ga4__traffic_daily"] and first.built["stg_shopify__daily_sales"]

    write_raw(empty_warehouse, "raw_ga4.traffic_daily", ACME_RAW["raw_ga4.traffic_daily"])
    second = refresh_marts(empty_warehouse, ["acme"])
    assert second.built["stg_ga4__traffic_daily"]
    assert metric_rows(empty_warehouse, "acme") == ACME_METRICS


def published_spend(version_dir: Path) -> Decimal:
    """The spend a published metric_daily file holds, summed over its rows."""
    path = str(version_dir / "metric_daily.parquet")
    (spend,) = duckdb.execute("select sum(value) from read_parquet(?) where metric_key = 'spend'", [path]).fetchone()
    return spend


def test_a_clients_refresh_publishes_that_client_only(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    write_both(settings)
    refresh_marts(settings)
    serving = settings.serving_dir
    acme_before = (serving / "acme" / CURRENT).read_text()
    globex_before = sorted(path.name for path in (serving / "globex").iterdir())
    replace_raw(settings, META, "acme", ACME_RESTATED)
    replace_raw(settings, META, "globex", globex_meta("250"))

    report = refresh_marts(settings, ["acme"])
    assert report.published is not None
    assert (report.published.companies, report.published.written) == (1, 1)
    acme_now = (serving / "acme" / CURRENT).read_text()
    assert acme_now == report.published.version != acme_before
    assert sorted(path.name for path in (serving / "globex").iterdir()) == globex_before
    assert published_spend(serving / "acme" / acme_now) == Decimal("28.50")  # 24.25 on Sep 1 + 4.25 on Sep 2
    globex_version = (serving / "globex" / CURRENT).read_text()
    assert published_spend(serving / "globex" / globex_version) == Decimal(100)


def test_a_client_without_rows_any_more_loses_only_its_own_published_marts(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    write_both(settings)
    refresh_marts(settings)
    globex_before = sorted(path.name for path in (settings.serving_dir / "globex").iterdir())
    for table in ACME_RAW:
        delete_raw(settings, table, "acme")
    report = refresh_marts(settings, ["acme"])
    assert report.published is not None and report.published.removed == 1
    assert not (settings.serving_dir / "acme").exists()
    assert sorted(path.name for path in (settings.serving_dir / "globex").iterdir()) == globex_before


HOLD_THE_WAREHOUSE = """
import sys, time
from pathlib import Path
from tally.settings import Settings
from warehouse.models import warehouse_transaction

with warehouse_transaction(Settings(_env_file=None, data_dir=Path(sys.argv[1]))) as warehouse:
    warehouse.execute("create table held (writer varchar)")
    warehouse.execute("insert into held values ('the other process')")
    Path(sys.argv[2]).touch()
    time.sleep(1.5)
"""


def test_a_marts_refresh_waits_for_another_processs_duckdb_writer_instead_of_failing(tmp_path: Path) -> None:
    """DuckDB refuses a second process's open of a file being written ("Could not set lock on file"), and two
    runs on SQLite instance storage can both hold the warehouse_writer pool's one slot: the writer lock makes
    the second writer wait, so both writes land."""
    settings = Settings(_env_file=None, data_dir=tmp_path)
    ready = tmp_path / "holding"
    other = subprocess.Popen([sys.executable, "-c", HOLD_THE_WAREHOUSE, str(tmp_path), str(ready)], cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and other.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the other process never opened the warehouse"
        write_both(settings)
        report = refresh_marts(settings, ["acme"])
    finally:
        assert other.wait(timeout=60) == 0
    assert report.companies == ("acme",)
    assert metric_rows(settings, "acme") == ACME_METRICS
    with warehouse_transaction(settings) as warehouse:
        assert query(warehouse, "select writer from held") == [("the other process",)]


def catalog(settings: Settings) -> list[tuple[str, ...]]:
    """Every relation of the staging and marts schemas with its oid, and every index on the marts."""
    with warehouse_transaction(settings) as warehouse:
        relations = query(
            warehouse,
            "select nspname, relname, cast(pg_class.oid as varchar) from pg_class "
            "join pg_namespace on pg_namespace.oid = relnamespace "
            "where nspname in ('staging', 'marts') order by 1, 2",
        )
    return [tuple(str(value) for value in row) for row in relations]


@pytest.mark.postgres
def test_postgres_client_refreshes_keep_the_tables_views_and_one_index_per_mart(tmp_path: Path) -> None:
    """No per-refresh DDL: the same relations (oids) before and after, and each mart's index created once."""
    with temporary_postgres_database("tally_refresh") as url:
        settings = Settings(_env_file=None, data_dir=tmp_path, warehouse_url=url)
        write_both(settings)
        refresh_marts(settings, ["acme"])
        before = catalog(settings)
        refresh_marts(settings, ["acme"])
        refresh_marts(settings, ["globex"])
        assert catalog(settings) == before
    indexes = [name for _, name, _ in before if name.endswith("_idx")]
    assert indexes == ["campaign_daily_company_id_date_idx", "metric_daily_company_id_date_idx"]


def refresh_at_once(settings: Settings, start: threading.Barrier, company: str) -> tuple[str, ...] | None:
    """One company's refresh, started when the other thread's is."""
    start.wait()
    return refresh_marts(settings, [company]).companies


@pytest.mark.postgres
def test_two_clients_refreshed_at_once_on_postgres_both_commit_every_row(tmp_path: Path) -> None:
    """The first round finds nothing created, so both refreshes want to create the views and marts."""
    with temporary_postgres_database("tally_concurrent") as url:
        settings = Settings(_env_file=None, data_dir=tmp_path, warehouse_url=url)
        write_both(settings)
        for spend in ("100", "250", "75.5"):
            replace_raw(settings, META, "globex", globex_meta(spend))
            start = threading.Barrier(2)
            with ThreadPoolExecutor(max_workers=2) as pool:
                refreshed = list(pool.map(refresh_at_once, [settings] * 2, [start] * 2, ["acme", "globex"]))
            assert refreshed == [("acme",), ("globex",)]
            assert metric_rows(settings, "acme") == ACME_METRICS
            assert metric_rows(settings, "globex") == globex_metrics(spend)
