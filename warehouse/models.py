"""Running the SQL models in ``sql/``: staging views over the raw tables, then the mart tables built from them.

The same files run on the DuckDB warehouse and on PostgreSQL. A staging model whose raw table has not been
loaded yet (a client without that platform) becomes an empty view of the same columns and types, from
``sql/staging/empty/``, so the marts always build.

A client's refresh rewrites that client's rows only: the mart models read a ``:company_id`` parameter (null
for every company), so one file serves both the full rebuild after a model change and a client's refresh, whose
cost is then that client's rows, not every client's. Views and tables are created once, when missing; DDL takes
an exclusive PostgreSQL advisory lock and row writes a shared one, so concurrent client refreshes run side by
side and never race a ``create``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import filelock
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

    @property
    def raw_relation(self) -> str:
        """The raw table as the view's SQL names it, which is how a view over it is told from its stand-in."""
        return f"{self.raw_schema}.{self.raw_table}"


@dataclass(frozen=True)
class ModelRun:
    """What one run of the models did: which staging models had raw data, and how many mart rows it wrote."""

    built: dict[str, bool]
    rows: int


# In dependency order: metric_daily reads campaign_daily.
MART_MODELS = ["campaign_daily", "metric_daily"]
# Tables loads append to rather than models rebuild: the revision log (served beside the marts) and the captures
# it is computed from (sql/revisions/), each created by its own DDL file.
LOG_TABLES = {
    ("marts", "revision_log"): "create_revision_log.sql",
    ("revisions", "day_values"): "create_day_values.sql",
}
# Mart rows are stored in this order: DuckDB's zone maps then skip the other companies, and PostgreSQL indexes it.
MART_ORDER = "company_id, date"
# The sql package sits beside this one, in a checkout and when installed.
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# A stand-in in sql/staging/empty/ is named after the table, with this prefix when every ad platform's model of
# that table shares it (ad_campaign_daily.sql); exactly one of the two must exist.
SHARED_STAND_IN_PREFIX = "ad_"
PARAMETER = re.compile(r"(?<![:\w]):([a-z_]+)\b")
# The PostgreSQL advisory lock that serialises the models' DDL against every refresh (any fixed bigint).
MODELS_LOCK = 7_461_001
EVERY_COMPANY: dict[str, Any] = {"company_id": None}


def staging_models(staging_dir: Path) -> list[StagingModel]:
    """The staging models as the files of ``staging_dir`` name them: ``stg_<platform>__<table>.sql`` reads
    ``raw_<platform>.<table>``, so adding a platform's staging SQL (and a stand-in for a new shape) is the one step.

    Platform names are not known here (the warehouse imports nothing of ``pipelines``); a test checks that every
    ad platform of the registry has its models, and that each model's SQL reads the raw table its name says.
    """
    models = []
    for path in sorted(staging_dir.glob("*.sql")):
        platform, separator, table = path.stem.removeprefix("stg_").partition("__")
        if not path.stem.startswith("stg_") or not separator or not platform or not table:
            raise ValueError(f"sql/staging/{path.name}: a staging model is named stg_<platform>__<table>.sql")
        stand_ins = [
            name
            for name in (table, SHARED_STAND_IN_PREFIX + table)
            if staging_dir.joinpath("empty", f"{name}.sql").is_file()
        ]
        if len(stand_ins) != 1:
            raise ValueError(
                f"sql/staging/{path.name}: needs exactly one stand-in, sql/staging/empty/{table}.sql or "
                f"{SHARED_STAND_IN_PREFIX}{table}.sql; found {len(stand_ins)}"
            )
        models.append(StagingModel(path.stem, f"raw_{platform}", table, stand_ins[0]))
    return models


STAGING_MODELS = staging_models(SQL_DIR / "staging")


def model_sql(*path: str) -> str:
    """The text of one ``.sql`` file of the ``sql`` package, e.g. ``model_sql("marts", "campaign_daily.sql")``."""
    return SQL_DIR.joinpath(*path).read_text()


def run_models(warehouse: Warehouse, company_ids: Collection[str] | None = None) -> ModelRun:
    """Rebuild every view and mart (``None``, for a model change), or rewrite only these companies' mart rows.

    The caller owns the transaction: run it inside one (``engine.begin()``, or DuckDB's ``begin``/``commit``)
    so that readers see a company's old rows or its new ones, never none.
    """
    if company_ids is None:
        return rebuild_models(warehouse)
    built = ensure_models(warehouse)
    rows = sum(refresh_company(warehouse, company) for company in sorted(set(company_ids)))
    return ModelRun(built=built, rows=rows)


def rebuild_models(warehouse: Warehouse) -> ModelRun:
    """Replace every staging view and build every mart anew from all companies' raw rows."""
    lock_models(warehouse, exclusive=True)
    create_schemas(warehouse)
    loaded = raw_tables(warehouse)
    for model in STAGING_MODELS:
        replace_view(warehouse, "staging", model.name, staging_sql(model, loaded))
    for name in MART_MODELS:
        replace_table(warehouse, "marts", name, model_sql("marts", f"{name}.sql"))
    rows = sum(query(warehouse, f"select count(*) from marts.{name}")[0][0] for name in MART_MODELS)
    return ModelRun(built=built_models(loaded), rows=rows)


def ensure_models(warehouse: Warehouse) -> dict[str, bool]:
    """Create what is missing (first run, a platform loaded for the first time), leave the rest alone.

    The catalog is read before any lock: a refresh with nothing to create takes the shared lock and runs
    beside the others; one that must create takes the exclusive lock and looks again, since another refresh
    may have created the same things meanwhile.
    """
    loaded = raw_tables(warehouse)
    if outdated_models(warehouse, loaded) is None:
        lock_models(warehouse, exclusive=False)
        return built_models(loaded)
    lock_models(warehouse, exclusive=True)
    loaded = raw_tables(warehouse)
    views, tables = outdated_models(warehouse, loaded) or ([], [])
    create_schemas(warehouse)
    for model in views:
        replace_view(warehouse, "staging", model.name, staging_sql(model, loaded))
    for name in tables:
        create_table(warehouse, "marts", name, model_sql("marts", f"{name}.sql"))
    return built_models(loaded)


def outdated_models(warehouse: Warehouse, loaded: set[tuple[str, str]]) -> tuple[list[StagingModel], list[str]] | None:
    """The staging views to (re)create and the mart tables to create, or None when there are none.

    A view is recreated when it is missing, or when it is still the empty stand-in although its raw table
    now exists (its definition does not name the raw table).
    """
    relations = existing_relations(warehouse)
    views = [
        model
        for model in STAGING_MODELS
        if ("staging", model.name) not in relations
        or (
            (model.raw_schema, model.raw_table) in loaded
            and model.raw_relation not in (relations[("staging", model.name)] or "").lower()
        )
    ]
    tables = [name for name in MART_MODELS if ("marts", name) not in relations]
    logs_missing = any(table not in relations for table in LOG_TABLES)
    return (views, tables) if views or tables or logs_missing else None


def refresh_company(warehouse: Warehouse, company_id: str) -> int:
    """Delete one company's rows from each mart and insert the model's rows for it; returns the rows written."""
    company = {"company_id": company_id}
    written = 0
    for name in MART_MODELS:
        execute(warehouse, f"delete from marts.{name} where company_id = :company_id", company)
        written += write_rows(
            warehouse,
            f"insert into marts.{name}\nselect * from (\n{model_sql('marts', f'{name}.sql')}\n) as model\n"
            f"order by {MART_ORDER}",
            company,
        )
    return written


def built_models(loaded: set[tuple[str, str]]) -> dict[str, bool]:
    """Per staging model, whether its raw table exists (else it is the empty stand-in)."""
    return {model.name: (model.raw_schema, model.raw_table) in loaded for model in STAGING_MODELS}


def staging_sql(model: StagingModel, loaded: set[tuple[str, str]]) -> str:
    """The model's own SQL when its raw table exists, else its empty stand-in."""
    if (model.raw_schema, model.raw_table) in loaded:
        return model_sql("staging", f"{model.name}.sql")
    return empty_sql(model)


def empty_sql(model: StagingModel) -> str:
    """The typed, row-less stand-in of a staging model."""
    return model_sql("staging", "empty", f"{model.empty}.sql")


def create_schemas(warehouse: Warehouse) -> None:
    """The schemas the models write to, and the log tables loads append to."""
    execute(warehouse, "create schema if not exists staging")
    execute(warehouse, "create schema if not exists marts")
    execute(warehouse, "create schema if not exists revisions")
    for ddl in LOG_TABLES.values():
        execute(warehouse, model_sql("revisions", ddl))


def lock_models(warehouse: Warehouse, exclusive: bool) -> None:
    """PostgreSQL: hold the models' advisory lock until the transaction ends (DuckDB has one writer anyway)."""
    if isinstance(warehouse, sa.Connection):
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        execute(warehouse, f"select {function}({MODELS_LOCK})")


def replace_view(warehouse: Warehouse, schema: str, name: str, select: str) -> None:
    """Drop and recreate one view."""
    execute(warehouse, f"drop view if exists {schema}.{name}")
    execute(warehouse, f"create view {schema}.{name} as\n{select}")


def replace_table(
    warehouse: Warehouse, schema: str, name: str, select: str, params: dict[str, Any] = EVERY_COMPANY
) -> None:
    """Build a mart beside the old one, then swap it in (PostgreSQL has no ``create or replace table``).

    Building under a new name first keeps the exclusive lock that readers wait on to the swap at the end.
    ``params`` binds the model's ``:company_id``: null, every company.
    """
    building = f"{name}__next"
    execute(warehouse, f"drop table if exists {schema}.{building}")
    create_table(warehouse, schema, building, select, params)
    execute(warehouse, f"drop table if exists {schema}.{name}")
    execute(warehouse, f"alter table {schema}.{building} rename to {name}")


def create_table(
    warehouse: Warehouse, schema: str, name: str, select: str, params: dict[str, Any] = EVERY_COMPANY
) -> None:
    """Create a mart from its model in (company_id, date) order; on PostgreSQL with its index, made once here."""
    execute(
        warehouse,
        f"create table {schema}.{name} as\nselect * from (\n{select}\n) as model\norder by {MART_ORDER}",
        params,
    )
    if isinstance(warehouse, sa.Connection):
        execute(warehouse, f"create index on {schema}.{name} ({MART_ORDER})")


def raw_tables(warehouse: Warehouse) -> set[tuple[str, str]]:
    """Every (schema, table) of the raw datasets that exists in the warehouse."""
    schemas = ", ".join(sorted({f"'{model.raw_schema}'" for model in STAGING_MODELS}))
    rows = query(
        warehouse, f"select table_schema, table_name from information_schema.tables where table_schema in ({schemas})"
    )
    return {(schema, table) for schema, table in rows}


def existing_relations(warehouse: Warehouse) -> dict[tuple[str, str], str | None]:
    """Every table and view of the staging and marts schemas, with a view's definition (None for a table)."""
    rows = query(
        warehouse,
        "select tables.table_schema, tables.table_name, views.view_definition\n"
        "from information_schema.tables as tables\n"
        "left join information_schema.views as views\n"
        "    on views.table_schema = tables.table_schema and views.table_name = tables.table_name\n"
        "where tables.table_schema in ('staging', 'marts', 'revisions')",
    )
    return {(schema, name): definition for schema, name, definition in rows}


@cache
def parameter_names(sql: str) -> frozenset[str]:
    """The ``:name`` parameters a statement names, found once per statement text."""
    return frozenset(PARAMETER.findall(sql))


@cache
def duckdb_parameters(sql: str) -> str:
    """A statement with ``:name`` parameters in DuckDB's ``$name`` form, rewritten once per statement text."""
    return PARAMETER.sub(r"$\1", sql)


def used_parameters(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a statement names; a missing one is a bug in the caller, so it raises ``KeyError``."""
    return {name: params[name] for name in parameter_names(sql)}


def execute(warehouse: Warehouse, statement: str, params: dict[str, Any] | None = None) -> None:
    """Run one statement on either kind of connection, binding the ``:name`` parameters it names."""
    write_rows(warehouse, statement, params)


def write_rows(warehouse: Warehouse, statement: str, params: dict[str, Any] | None = None) -> int:
    """Run one statement on either kind of connection; returns the rows it wrote (0 for DDL)."""
    bound = used_parameters(statement, params) if params is not None else {}
    if isinstance(warehouse, sa.Connection):
        result = warehouse.execute(sa.text(statement), bound) if bound else warehouse.exec_driver_sql(statement)
        return max(result.rowcount, 0)
    result = warehouse.execute(duckdb_parameters(statement), bound) if bound else warehouse.execute(statement)
    if not statement.lstrip().startswith(("insert", "delete", "update")):
        return 0
    (rows,) = result.fetchone() or (0,)
    return int(rows)


def query(warehouse: Warehouse, statement: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of one query on either kind of connection, binding the ``:name`` parameters it names."""
    bound = used_parameters(statement, params) if params is not None else {}
    if isinstance(warehouse, sa.Connection):
        if bound:
            return [tuple(row) for row in warehouse.execute(sa.text(statement), bound)]
        return [tuple(row) for row in warehouse.exec_driver_sql(statement)]
    if bound:
        return warehouse.execute(duckdb_parameters(statement), bound).fetchall()
    return warehouse.execute(statement).fetchall()


def writer_lock(settings: Settings) -> AbstractContextManager[object]:
    """Exclusive use of the DuckDB file across processes, for as long as a writer needs it; none on PostgreSQL.

    DuckDB lets one process open a file for writing, and a second process's open (even read-only) fails at once
    with "Could not set lock on file" instead of waiting. The ``warehouse_writer`` pool is meant to keep writing
    steps apart, but on SQLite instance storage two runs can both claim its one slot (Dagster reads a free slot
    and then takes it by id, with no row lock), so a marts step failed while another run's load held the file.
    This lock makes the writers wait instead. It is one object per file in a process and re-entrant within a
    thread, so a load that holds it can open the warehouse transactions of its revision capture; another thread
    of the same process waits like another process.
    """
    if settings.warehouse_url:
        return nullcontext()
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(f"{settings.duckdb_path}.lock", is_singleton=True, preserve_lock_file=True)


@contextmanager
def held_open(settings: Settings) -> Iterator[None]:
    """Keep the DuckDB file open, under its writer lock, while a writer runs many short transactions on it.

    DuckDB shares one database instance between a process's connections to a file for as long as one of them is
    open, so every open inside the block (a warehouse transaction, dlt's loader, a publish) costs about 1 ms
    instead of reading the catalogue again and checkpointing on close: about 39 ms each on a file of 300
    tables, and eight of them per platform write (140 of its 387 ms). Nothing to hold on PostgreSQL.
    """
    if settings.warehouse_url:
        yield
        return
    with writer_lock(settings), duckdb.connect(str(settings.duckdb_path)):
        yield


@contextmanager
def committed_warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection outside any transaction, which reads the DuckDB file's committed rows (to publish them), under
    its writer lock: another process's writer would make the open fail. It opens the file for writing like every
    other connection of the process, because DuckDB refuses a read-only open of a file the process holds open
    (``held_open``) and otherwise shares that open."""
    with writer_lock(settings), duckdb.connect(str(settings.duckdb_path)) as warehouse:
        yield warehouse


@contextmanager
def warehouse_transaction(settings: Settings) -> Iterator[Warehouse]:
    """One transaction on the configured warehouse: PostgreSQL by URL, else the DuckDB file (under its writer
    lock)."""
    if settings.warehouse_url:
        engine = sa.create_engine(settings.warehouse_url)
        try:
            with engine.begin() as connection:
                yield connection
        finally:
            engine.dispose()
        return
    with writer_lock(settings), duckdb.connect(str(settings.duckdb_path)) as connection:
        connection.begin()
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
