"""Running the SQL models in ``sql/``: staging views over the raw tables, then the mart tables built from them.

The same files run on the DuckDB warehouse and on PostgreSQL. A staging model whose raw table has not been
loaded yet (a client without that platform) becomes an empty view of the same columns and types, from
``sql/staging/empty/``, so the marts always build.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa

from tally.settings import Settings

Warehouse = duckdb.DuckDBPyConnection | sa.Connection


@dataclass(frozen=True)
class StagingModel:
    """A staging model, the raw table it reads, and the empty stand-in used while that table is missing."""

    name: str
    raw_schema: str
    raw_table: str
    empty: str


STAGING_MODELS = [
    StagingModel(f"stg_{platform}__{table}", f"raw_{platform}", table, f"ad_{table}")
    for platform in ("meta_ads", "google_ads", "tiktok_ads")
    for table in ("campaign_daily", "campaigns")
] + [
    StagingModel("stg_shopify__daily_sales", "raw_shopify", "daily_sales", "daily_sales"),
    StagingModel("stg_ga4__traffic_daily", "raw_ga4", "traffic_daily", "traffic_daily"),
]
# In dependency order: metric_daily reads campaign_daily.
MART_MODELS = ["campaign_daily", "metric_daily"]
# The sql package sits beside this one, in a checkout and when installed.
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def model_sql(*path: str) -> str:
    """The text of one ``.sql`` file of the ``sql`` package, e.g. ``model_sql("marts", "campaign_daily.sql")``."""
    return SQL_DIR.joinpath(*path).read_text()


def run_models(warehouse: Warehouse) -> dict[str, bool]:
    """Build every staging view and mart table; returns, per staging model, whether its raw table existed.

    The caller owns the transaction: run it inside one (``engine.begin()``, or DuckDB's ``begin``/``commit``)
    so that readers see the old marts or the new ones, never none.
    """
    execute(warehouse, "create schema if not exists staging")
    execute(warehouse, "create schema if not exists marts")
    loaded = raw_tables(warehouse)
    built = {}
    for model in STAGING_MODELS:
        built[model.name] = (model.raw_schema, model.raw_table) in loaded
        select = model_sql("staging", f"{model.name}.sql") if built[model.name] else empty_sql(model)
        replace_view(warehouse, "staging", model.name, select)
    for name in MART_MODELS:
        replace_table(warehouse, "marts", name, model_sql("marts", f"{name}.sql"))
    return built


def empty_sql(model: StagingModel) -> str:
    """The typed, row-less stand-in of a staging model."""
    return model_sql("staging", "empty", f"{model.empty}.sql")


def replace_view(warehouse: Warehouse, schema: str, name: str, select: str) -> None:
    """Drop and recreate one view."""
    execute(warehouse, f"drop view if exists {schema}.{name}")
    execute(warehouse, f"create view {schema}.{name} as\n{select}")


def replace_table(warehouse: Warehouse, schema: str, name: str, select: str) -> None:
    """Build a mart beside the old one, then swap it in (PostgreSQL has no ``create or replace table``).

    Rows are stored in (company_id, date) order: DuckDB's zone maps then skip the other companies when one is
    published, and PostgreSQL gets an index on the same columns for the API's per-company reads. Building
    under a new name first keeps the exclusive lock that readers wait on to the swap at the end.
    """
    building = f"{name}__next"
    execute(warehouse, f"drop table if exists {schema}.{building}")
    execute(
        warehouse,
        f"create table {schema}.{building} as\nselect * from (\n{select}\n) as model\norder by company_id, date",
    )
    if isinstance(warehouse, sa.Connection):
        execute(warehouse, f"create index on {schema}.{building} (company_id, date)")
    execute(warehouse, f"drop table if exists {schema}.{name}")
    execute(warehouse, f"alter table {schema}.{building} rename to {name}")


def raw_tables(warehouse: Warehouse) -> set[tuple[str, str]]:
    """Every (schema, table) of the raw datasets that exists in the warehouse."""
    schemas = ", ".join(sorted({f"'{model.raw_schema}'" for model in STAGING_MODELS}))
    rows = query(
        warehouse, f"select table_schema, table_name from information_schema.tables where table_schema in ({schemas})"
    )
    return {(schema, table) for schema, table in rows}


def execute(warehouse: Warehouse, statement: str) -> None:
    """Run one statement on either kind of connection."""
    if isinstance(warehouse, sa.Connection):
        warehouse.exec_driver_sql(statement)
    else:
        warehouse.execute(statement)


def query(warehouse: Warehouse, statement: str) -> list[tuple[Any, ...]]:
    """The rows of one query on either kind of connection."""
    if isinstance(warehouse, sa.Connection):
        return [tuple(row) for row in warehouse.exec_driver_sql(statement)]
    return warehouse.execute(statement).fetchall()


@contextmanager
def warehouse_transaction(settings: Settings) -> Iterator[Warehouse]:
    """One transaction on the configured warehouse: PostgreSQL by URL, else the DuckDB file."""
    if settings.warehouse_url:
        engine = sa.create_engine(settings.warehouse_url)
        try:
            with engine.begin() as connection:
                yield connection
        finally:
            engine.dispose()
        return
    with duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.begin()
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
