"""The exchange rates every company's conversions read: ``marts.fx_rates`` built from the ECB's loaded rates, and
published for the API on their own.

The rates are no company's, so they are not part of a client's marts refresh: each load of the rates rebuilds the
whole (small) table, from ``sql/marts/fx_rates.sql``, in one warehouse transaction. On DuckDB the table is then
published as ``<rates_serving_dir>/<version>/fx_rates.parquet`` with ``CURRENT`` flipped by an atomic rename, as
a company's marts are; a version folder is never written again, so the API remembers converted answers under it.
On PostgreSQL the API reads the table itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import sqlalchemy as sa

from tally.settings import Settings
from warehouse.models import (
    Warehouse,
    committed_warehouse,
    ensure_models,
    execute,
    lock_models,
    model_sql,
    query,
    warehouse_transaction,
    write_rows,
)
from warehouse.serving import (
    CURRENT,
    FINGERPRINT,
    PARQUET_OPTIONS,
    RATES_MART,
    make_current,
    published_fingerprint,
    sql_string,
)

RAW_RATES = ("raw_fx", "reference_rates")
RATES_ORDER = "currency, valid_from"


@dataclass(frozen=True)
class RatesReport:
    """What one rebuild of the rates did: for the asset's metadata."""

    rows: int
    currencies: int
    latest_day: date | None
    published_version: str | None


def latest_loaded_day(settings: Settings) -> date | None:
    """The last publication day the warehouse holds rates of, or None before the first load."""
    if not settings.warehouse_url and not settings.duckdb_path.exists():
        return None
    with warehouse_transaction(settings) as warehouse:
        if not has_raw_rates(warehouse):
            return None
        ((latest,),) = query(warehouse, f"select max(date) from {'.'.join(RAW_RATES)}")
    return latest


def has_raw_rates(warehouse: Warehouse) -> bool:
    """Whether the rates' raw table exists (a first load creates it)."""
    rows = query(
        warehouse,
        "select 1 from information_schema.tables where table_schema = :schema and table_name = :table",
        {"schema": RAW_RATES[0], "table": RAW_RATES[1]},
    )
    return bool(rows)


def rebuild_rates(warehouse: Warehouse) -> int:
    """Replace every row of ``marts.fx_rates`` with the model's, creating the table first when missing; returns
    the rows written. Delete and insert in the caller's transaction: readers see the old rates or the new."""
    ensure_models(warehouse)
    lock_models(warehouse, exclusive=True)
    select = f"select * from (\n{model_sql('marts', f'{RATES_MART}.sql')}\n) as model\norder by {RATES_ORDER}"
    present = query(
        warehouse,
        "select 1 from information_schema.tables where table_schema = 'marts' and table_name = :table",
        {"table": RATES_MART},
    )
    if not present:
        execute(warehouse, f"create table marts.{RATES_MART} as\n{select}")
        ((rows,),) = query(warehouse, f"select count(*) from marts.{RATES_MART}")
        return int(rows)
    execute(warehouse, f"delete from marts.{RATES_MART}")
    return write_rows(warehouse, f"insert into marts.{RATES_MART}\n{select}")


def refresh_rates(settings: Settings) -> RatesReport:
    """Rebuild ``marts.fx_rates`` from the loaded rates, then (DuckDB) publish it for the API."""
    with warehouse_transaction(settings) as warehouse:
        rows = rebuild_rates(warehouse)
        ((currencies, latest),) = query(
            warehouse, f"select count(distinct currency), max(valid_from) from marts.{RATES_MART}"
        )
        if isinstance(warehouse, sa.Connection):
            return RatesReport(rows, int(currencies), latest, None)
    with committed_warehouse(settings) as warehouse:
        version = publish_rates(warehouse, settings.rates_serving_dir)
    return RatesReport(rows, int(currencies), latest, version)


def publish_rates(warehouse: duckdb.DuckDBPyConnection, rates_dir: Path) -> str:
    """Write ``marts.fx_rates`` as a new version and point ``CURRENT`` at it, unless the current version holds the
    same rows (the API then keeps its remembered answers); returns the version folder's name."""
    ((rows, hashed),) = warehouse.execute(
        f"select count(*), sum(hash({RATES_MART})) from marts.{RATES_MART} as {RATES_MART}"
    ).fetchall()
    fingerprint = f"{PARQUET_OPTIONS}\n{RATES_MART}:{rows}:{hashed}"
    if published_fingerprint(rates_dir) == fingerprint:
        return (rates_dir / CURRENT).read_text().strip()
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]
    writing = rates_dir / f".{version}"
    writing.mkdir(parents=True, exist_ok=True)
    warehouse.execute(
        f"copy (select * from marts.{RATES_MART} order by {RATES_ORDER}) "
        f"to {sql_string(writing / f'{RATES_MART}.parquet')} ({PARQUET_OPTIONS})"
    )
    (writing / FINGERPRINT).write_text(fingerprint)
    make_current(rates_dir, version)
    return version
