"""The serving layer: each company's mart rows published as Parquet, and the readers the API queries marts with.

DuckDB lets one process hold the warehouse file, and that process is a Dagster run. So after the marts are
rebuilt, the run writes every company's rows to ``<data_dir>/serving/<company>/<version>/<mart>.parquet`` and
then points ``<company>/CURRENT`` at the new version with an atomic rename: a reader resolves ``CURRENT`` once
and sees the old files or the new ones, never half. The API reads them with an in-memory DuckDB, so a request
costs what that company's data costs, however many companies there are; and since a version folder never
changes, the API remembers each answer under it until the company's next publish.

On PostgreSQL there is nothing to publish: the API reads the mart tables (readers do not block on writers).
Either way the rollups in ``sql/rollups/`` run unchanged against ``metric_daily`` and ``campaign_daily``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Collection, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import cachetools
import duckdb
import sqlalchemy as sa

from tally.settings import Settings
from warehouse.conversions import converted_sql
from warehouse.models import (
    LOG_TABLES,
    MART_MODELS,
    committed_warehouse,
    duckdb_parameters,
    model_sql,
    run_models,
    used_parameters,
    warehouse_transaction,
)

CURRENT = "CURRENT"
# Written into each version folder: what its rows were, so a publish can tell whether a company changed.
FINGERPRINT = "FINGERPRINT"
# Versions kept per company beside the current one, so a reader that resolved the previous pointer can finish.
KEEP_PREVIOUS = 1
# Rows are written in date order, so small row groups let a period's query skip the other months' groups by their
# min/max dates; LZ4 decodes several times faster than zstd for a few percent more disk.
PARQUET_OPTIONS = "format parquet, compression lz4, row_group_size 4096"
# What is published per company: the marts, and the log tables of the marts schema (the revision log).
SERVED_TABLES = [*MART_MODELS, *(name for schema, name in LOG_TABLES if schema == "marts")]
# The exchange rates, one table for every company (sql/marts/fx_rates.sql), published on their own.
RATES_MART = "fx_rates"
# A rollup names a mart as a table in its from clauses; the serving reader binds each to the company's source.
MART_REFERENCE = re.compile(rf"\bfrom ({'|'.join([*SERVED_TABLES, RATES_MART])})\b")
# Parameters a rollup may take that its callers may leave out: the currency to convert amounts into (sql/rollups/
# results_metrics.sql), none meaning each amount in its own currency.
OPTIONAL_PARAMETERS: dict[str, Any] = {"currency": None}


@cache
def rollup_sql(name: str) -> str:
    """The text of ``sql/rollups/<name>.sql``, read once per process: the files do not change while serving."""
    return model_sql("rollups", f"{name}.sql")


def sql_string(path: Path) -> str:
    """A file path as a SQL string literal (DuckDB takes no parameters for COPY targets or view bodies)."""
    return "'" + str(path).replace("'", "''") + "'"


@cache
def tables_read(sql: str) -> frozenset[str]:
    """The marts a statement reads (``from <mart>``); one that reads none is pure date arithmetic."""
    return frozenset(MART_REFERENCE.findall(sql))


@dataclass(frozen=True)
class PublishReport:
    """What one publish did: for the asset's metadata."""

    companies: int
    written: int
    removed: int
    version: str


def served_tables(warehouse: duckdb.DuckDBPyConnection) -> list[str]:
    """The marts to publish: every mart, and the log tables the warehouse has (loads create the revision log)."""
    present = {
        name
        for (name,) in warehouse.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    return [name for name in SERVED_TABLES if name in MART_MODELS or name in present]


def fingerprints(warehouse: duckdb.DuckDBPyConnection, companies: Collection[str] | None = None) -> dict[str, str]:
    """Each company with mart rows (of ``companies``, or all), and a fingerprint of its rows and how they are written.

    Per mart: its columns, the company's row count and the sum of its rows' hashes (order does not matter, a
    changed value changes the sum). bench/api.py's 8.8 million mart rows are fingerprinted in 0.1 s; writing
    them takes 6-7 s. A named company is read alone, so its rows' zone maps skip every other company.
    """
    parts: dict[str, list[str]] = {}
    for mart in served_tables(warehouse):
        columns = [column[0] for column in warehouse.execute(f"select * from marts.{mart} limit 0").description]
        for scope in [None] if companies is None else sorted(companies):
            for company, rows, hashed in warehouse.execute(
                f"select company_id, count(*), sum(hash({mart})) from marts.{mart} as {mart} "
                "where $company is null or company_id = $company group by company_id",
                {"company": scope},
            ).fetchall():
                parts.setdefault(company, []).append(f"{mart}({','.join(columns)}):{rows}:{hashed}")
    return {company: "\n".join([PARQUET_OPTIONS, *sorted(marts)]) for company, marts in parts.items()}


def publish(
    warehouse: duckdb.DuckDBPyConnection, serving_dir: Path, companies: Collection[str] | None = None
) -> PublishReport:
    """Write each company whose mart rows changed as a new Parquet version and point its ``CURRENT`` at it.

    ``companies`` limits the publish to those companies (a client's refresh); the others' folders are not
    looked at. A company whose rows are the ones its current version holds keeps that version, so the API's
    remembered answers for it stay. A company without rows in any mart loses its published directory.
    """
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:8]
    published = fingerprints(warehouse, companies)
    serving_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for company, fingerprint in sorted(published.items()):
        if published_fingerprint(serving_dir / company) != fingerprint:
            publish_company(warehouse, serving_dir / company, company, version, fingerprint)
            written += 1
    listed = {p.name for p in serving_dir.iterdir() if p.is_dir()}
    stale = sorted((listed if companies is None else listed & set(companies)) - set(published))
    for company in stale:
        shutil.rmtree(serving_dir / company, ignore_errors=True)
    return PublishReport(companies=len(published), written=written, removed=len(stale), version=version)


def current_version(company_dir: Path) -> Path | None:
    """The company's published version folder, or None when nothing is published for it."""
    try:
        return company_dir / (company_dir / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None


def published_fingerprint(company_dir: Path) -> str | None:
    """The fingerprint of the company's current version, or None when it has none (or an older layout)."""
    version_dir = current_version(company_dir)
    try:
        return (version_dir / FINGERPRINT).read_text() if version_dir else None
    except FileNotFoundError:
        return None


def publish_company(
    warehouse: duckdb.DuckDBPyConnection, company_dir: Path, company: str, version: str, fingerprint: str
) -> None:
    """Write one company's marts and fingerprint into a hidden folder, rename it to its version, flip ``CURRENT``."""
    writing = company_dir / f".{version}"
    writing.mkdir(parents=True, exist_ok=True)
    for mart in served_tables(warehouse):
        warehouse.execute(
            f"copy (select * from marts.{mart} where company_id = $company order by date) "
            f"to {sql_string(writing / f'{mart}.parquet')} ({PARQUET_OPTIONS})",
            {"company": company},
        )
    (writing / FINGERPRINT).write_text(fingerprint)
    make_current(company_dir, version)


def make_current(folder: Path, version: str) -> None:
    """Rename the written hidden ``.<version>`` folder into place, point ``CURRENT`` at it with an atomic rename,
    and remove the versions older than the previous one."""
    os.replace(folder / f".{version}", folder / version)
    pointer = folder / f".{CURRENT}.{version}"
    pointer.write_text(version)
    os.replace(pointer, folder / CURRENT)
    versions = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in versions[: -(KEEP_PREVIOUS + 1)]:
        shutil.rmtree(folder / old, ignore_errors=True)


Rows = list[dict[str, Any]]
# Told of every cache lookup: the cache's name and whether it was a hit (the API counts them in its metrics).
CacheObserver = Callable[[str, bool], None]


def ignore_lookup(cache: str, hit: bool) -> None:
    """The observer of a reader nobody watches (the assistant's, a benchmark's floor)."""


def answer_cells(rows: Rows) -> int:
    """What an answer counts for in the cache: its rows x columns, at least 1."""
    return max(1, len(rows) * len(rows[0])) if rows else 1


class RollupCache:
    """Rows of rollups whose answer cannot change, remembered per process: an LRU bounded in cells.

    A rollup's rows are a function of its parameters and of the mart rows it reads, nothing else. Two kinds of
    answer therefore never go stale: a rollup that reads no mart (the period calendar), and a rollup over one
    published version of a company's marts, because a version folder is never written again (a publish makes a
    new one and moves ``CURRENT``). Callers key the second kind by that folder. A dashboard asks the same
    company the same questions many times between two publishes, and each answer costs DuckDB 5-10 ms of
    planning however few rows it reads; a remembered one costs a copy.

    The bound is in cells (rows x columns, 60-100 bytes each as Python objects), so a year of daily spend
    counts for what it holds; an answer larger than a quarter of the bound is not kept. Size 0 keeps nothing.
    cachetools' LRU is not thread-safe, hence the lock; ``run`` is called outside it.
    """

    def __init__(self, max_cells: int, name: str = "answers", observe: CacheObserver = ignore_lookup) -> None:
        self.max_cells = max_cells
        self.name = name
        self.observe = observe
        self.remembered: cachetools.LRUCache[Hashable, Rows] = cachetools.LRUCache(
            maxsize=max_cells, getsizeof=answer_cells
        )
        self.lock = threading.Lock()

    @property
    def cells(self) -> int:
        """The cells the remembered answers hold."""
        return int(self.remembered.currsize)

    def rows(self, key: Hashable, run: Callable[[], Rows]) -> Rows:
        """The remembered rows for ``key``, or ``run()``'s; copies, so callers cannot change what is kept."""
        with self.lock:
            rows = self.remembered.get(key)
        self.observe(self.name, rows is not None)
        if rows is None:
            rows = run()
            self.keep(key, rows)
        return [dict(row) for row in rows]

    def keep(self, key: Hashable, rows: Rows) -> None:
        """Remember ``rows`` under ``key`` unless they are too large; the LRU evicts the least recently used."""
        if answer_cells(rows) * 4 > self.max_cells:
            return
        with self.lock:
            self.remembered[key] = rows


@dataclass(frozen=True)
class RollupCaches:
    """A reader's two caches: the period calendar, small and always on, and answers over published marts."""

    pure: RollupCache
    answers: RollupCache

    @classmethod
    def sized(cls, answer_cells: int, observe: CacheObserver = ignore_lookup) -> RollupCaches:
        """The calendar bounded at 4,096 periods of six cells; answers at ``answer_cells`` (0 keeps none)."""
        return cls(
            pure=RollupCache(4096 * 6, "calendar", observe), answers=RollupCache(answer_cells, "answers", observe)
        )


class MartSession(Protocol):
    """Queries over one company's marts, all seeing the same published version or transaction."""

    def rows(self, rollup: str, **params: Any) -> Rows:
        """The rows of ``sql/rollups/<rollup>.sql`` with its named parameters bound."""


class Marts(Protocol):
    """Where the API reads marts from."""

    def session(self, company_id: str) -> AbstractContextManager[MartSession]:
        """A read session over one company's marts."""

    def unready_reason(self) -> str | None:
        """Why no company's marts can be read right now, or None: for ``GET /readyz``, naming no company."""

    def publish_times(self) -> list[float] | None:
        """When each company's marts were last published (Unix seconds), or None when nothing is published as
        files (PostgreSQL)."""

    def published_version(self, company_id: str) -> str | None:
        """The immutable version of the company's marts a session would read now, or None when its rows can
        change under a reader (PostgreSQL tables) or nothing is published for it."""

    def rates_version(self) -> str | None:
        """The immutable version of the exchange rates a session would read now, or None as for companies."""

    def close(self) -> None:
        """Release connections."""


class RollupSession:
    """Runs rollups for one session, remembering answers that cannot change.

    A rollup that reads no mart (no ``from <mart>``) is always remembered. ``version`` names the immutable mart
    rows of the company the session reads (a published version folder), ``rates_version`` the immutable exchange
    rates (``fx_rates``); a rollup is remembered under the versions of what it reads. Either is None when its rows
    can change under the session (PostgreSQL tables, or nothing published yet): then nothing reading them is.

    Given a ``currency``, a rollup reads its amounts through ``sql/conversions/`` (``warehouse.conversions``).
    """

    def __init__(self, caches: RollupCaches, version: str | None, rates_version: str | None = None) -> None:
        self.caches = caches
        self.version = version
        self.rates_version = rates_version

    def rows(self, rollup: str, **params: Any) -> Rows:
        params = OPTIONAL_PARAMETERS | params
        sql = rollup_sql(rollup) if params["currency"] is None else converted_sql(rollup_sql(rollup))
        tables = tables_read(sql)
        # The versions of what the rollup reads: the company's marts, the rates, or both ("" for one not read).
        versions = (self.version if tables - {RATES_MART} else "", self.rates_version if RATES_MART in tables else "")
        if not tables:
            cache = self.caches.pure
        elif None in versions:
            return self.query(sql, params)
        else:
            cache = self.caches.answers
        key = (versions, rollup, tuple(sorted(used_parameters(sql, params).items())))
        return cache.rows(key, lambda: self.query(sql, params))

    def query(self, sql: str, params: dict[str, Any]) -> Rows:
        """The rows of one statement with its ``:name`` parameters bound."""
        raise NotImplementedError


class DuckDBSession(RollupSession):
    """One DuckDB cursor reading one company's published Parquet files.

    Each ``from <mart>`` of a rollup is read straight from the company's file (``from read_parquet(...) as
    <mart>``) rather than through a temporary view: a view is a catalog change, which costs more than the
    query over a small company's rows.
    """

    def __init__(
        self,
        cursor: duckdb.DuckDBPyConnection,
        sources: dict[str, str],
        caches: RollupCaches,
        version: str | None,
        rates_version: str | None = None,
    ) -> None:
        super().__init__(caches, version, rates_version)
        self.cursor = cursor
        self.sources = sources

    def query(self, sql: str, params: dict[str, Any]) -> Rows:
        bound = MART_REFERENCE.sub(lambda match: f"from {self.sources[match[1]]} as {match[1]}", duckdb_parameters(sql))
        result = self.cursor.execute(bound, used_parameters(sql, params))
        columns = [column[0] for column in result.description]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def published_source(version_dir: Path | None, mart: str) -> str:
    """How a rollup reads one mart of a company: its published file, or the mart's empty stand-in when nothing
    is published (or the version predates that mart: published before the revision log existed)."""
    parquet = version_dir / f"{mart}.parquet" if version_dir else None
    if parquet is not None and (mart in MART_MODELS or parquet.exists()):
        return f"read_parquet({sql_string(parquet)})"
    return f"({model_sql('marts', 'empty', f'{mart}.sql')})"


class ParquetMarts:
    """Marts from the published Parquet files, through one in-memory DuckDB and a cursor per session.

    A DuckDB cursor runs one statement at a time, so each session (each request) gets its own. Answers are
    remembered under the version folders the session resolved (``RollupCaches``). The exchange rates are read
    from ``rates_dir``, published there by the rates' own asset (``warehouse.rates``); None reads none.
    """

    def __init__(
        self,
        serving_dir: Path,
        cache_cells: int = 0,
        observe: CacheObserver = ignore_lookup,
        rates_dir: Path | None = None,
    ) -> None:
        self.serving_dir = serving_dir
        self.rates_dir = rates_dir
        # One thread per query: a request reads one company's rows, too few to split, and concurrent requests
        # are the parallelism (measured: 10-15% faster per query than two threads, before any contention).
        self.database = duckdb.connect(":memory:", config={"threads": 1})
        self.lock = threading.Lock()
        self.caches = RollupCaches.sized(cache_cells, observe)

    @contextmanager
    def session(self, company_id: str) -> Iterator[DuckDBSession]:
        with self.lock:
            cursor = self.database.cursor()
        try:
            version_dir = current_version(self.serving_dir / company_id)
            rates_dir = current_version(self.rates_dir) if self.rates_dir else None
            sources = {mart: published_source(version_dir, mart) for mart in SERVED_TABLES}
            sources[RATES_MART] = published_source(rates_dir, RATES_MART)
            yield DuckDBSession(
                cursor,
                sources,
                self.caches,
                str(version_dir) if version_dir else None,
                str(rates_dir) if rates_dir else None,
            )
        finally:
            cursor.close()

    def rates_version(self) -> str | None:
        """The exchange rates' current version folder, or None when none is published."""
        version_dir = current_version(self.rates_dir) if self.rates_dir else None
        return str(version_dir) if version_dir else None

    def unready_reason(self) -> str | None:
        """The serving folder is readable (or not made yet: nothing is published, every company reads empty) and
        the in-memory DuckDB answers."""
        if self.serving_dir.exists() and not os.access(self.serving_dir, os.R_OK | os.X_OK):
            return "the serving folder is not readable"
        with self.lock:
            cursor = self.database.cursor()
        try:
            cursor.execute("select 1").fetchall()
        except duckdb.Error as exc:
            return f"DuckDB does not answer ({type(exc).__name__})"
        finally:
            cursor.close()
        return None

    def published_version(self, company_id: str) -> str | None:
        """The company's current version folder: a publish makes a new one and never writes an old one again."""
        version_dir = current_version(self.serving_dir / company_id)
        return str(version_dir) if version_dir else None

    def publish_times(self) -> list[float]:
        """The modification time of each company's ``CURRENT`` pointer, which every publish of it replaces."""
        times = []
        with contextlib.suppress(FileNotFoundError):
            for company_dir in self.serving_dir.iterdir():
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    times.append((company_dir / CURRENT).stat().st_mtime)
        return times

    def close(self) -> None:
        self.database.close()


class PostgresSession(RollupSession):
    """One read-only PostgreSQL transaction with the marts schema first on the search path."""

    def __init__(self, connection: sa.Connection, caches: RollupCaches) -> None:
        super().__init__(caches, None)
        self.connection = connection

    def query(self, sql: str, params: dict[str, Any]) -> Rows:
        result = self.connection.execute(sa.text(sql), used_parameters(sql, params))
        return [dict(row) for row in result.mappings()]


class PostgresMarts:
    """Marts from the PostgreSQL warehouse's tables."""

    def __init__(self, url: str, observe: CacheObserver = ignore_lookup) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        # Tables change under the reader, so only the period calendar is remembered.
        self.caches = RollupCaches.sized(0, observe)

    @contextmanager
    def session(self, company_id: str) -> Iterator[PostgresSession]:
        with self.engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("set transaction isolation level repeatable read, read only")
            connection.exec_driver_sql("set local search_path to marts")
            yield PostgresSession(connection, self.caches)

    def unready_reason(self) -> str | None:
        """Every mart table is readable; before the first marts refresh they do not exist yet. Only the error's
        type is named: a driver's message may carry the URL."""
        try:
            with self.engine.connect() as connection:
                for mart in MART_MODELS:
                    connection.exec_driver_sql(f"select 1 from marts.{mart} limit 0")
        except sa.exc.SQLAlchemyError as exc:
            return f"the mart tables are not readable ({type(getattr(exc, 'orig', None) or exc).__name__})"
        return None

    def publish_times(self) -> None:
        """Nothing is published as files: the API reads the mart tables."""
        return None

    def published_version(self, company_id: str) -> None:
        """The tables change under readers: no version to remember answers under."""
        return None

    def rates_version(self) -> None:
        """The rates table changes under readers too."""
        return None

    def close(self) -> None:
        self.engine.dispose()


def open_marts(settings: Settings, observe: CacheObserver = ignore_lookup) -> ParquetMarts | PostgresMarts:
    """The reader for the configured warehouse; ``observe`` is told of each of its cache lookups."""
    if settings.warehouse_url:
        return PostgresMarts(settings.warehouse_url, observe)
    return ParquetMarts(settings.serving_dir, settings.rollup_cache_cells, observe, settings.rates_serving_dir)


@dataclass(frozen=True)
class RefreshReport:
    """What one marts refresh did: which staging models had raw data, whose rows it wrote, what was published.

    ``companies`` is None for a full rebuild; ``rows`` counts the mart rows written.
    """

    built: dict[str, bool]
    published: PublishReport | None
    companies: tuple[str, ...] | None = None
    rows: int = 0


def refresh_marts(settings: Settings, company_ids: Collection[str] | None = None) -> RefreshReport:
    """Rebuild the marts in one warehouse transaction, then publish them for the API.

    ``None`` rebuilds every company (a model changed); a collection rewrites and publishes those companies'
    rows only, so a client's refresh costs that client's rows. Publishing happens after the commit, from a
    read-only DuckDB connection, so the files hold committed rows.
    """
    companies = None if company_ids is None else tuple(sorted(set(company_ids)))
    with warehouse_transaction(settings) as warehouse:
        run = run_models(warehouse, companies)
        if isinstance(warehouse, sa.Connection):
            return RefreshReport(built=run.built, published=None, companies=companies, rows=run.rows)
    with committed_warehouse(settings) as warehouse:
        published = publish(warehouse, settings.serving_dir, companies)
    return RefreshReport(built=run.built, published=published, companies=companies, rows=run.rows)
