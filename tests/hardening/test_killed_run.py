"""A run SIGKILLed during its load, then run again, leaves the warehouse row for row as an undisturbed run leaves it.

Both warehouses first hold 30 days of a client's Meta history; then a 28-day sync window overlapping it is loaded,
undisturbed in one and, in the other, by a run in its own process that is SIGKILLed at a point of its load
(``tests/hardening/killed_run.py``) and then run again in-process; on DuckDB and on PostgreSQL (whose staging copy
is a COPY, so there the run is killed as it truncates the staging tables). Every table of the two warehouses is
dumped whole and sorted and compared, with two exclusions, both dlt's journal of load attempts rather than data:
the columns ``_dlt_load_id``/``_dlt_id`` (a random id per load attempt) and the tables ``_dlt_loads``,
``_dlt_pipeline_state`` and ``_dlt_version`` (one row per attempt or schema change, stamped with load ids and
times; a killed attempt that got as far as recording itself adds a row there, as it should).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
import sqlalchemy as sa

from orchestration.resources import TallyResource
from tally.settings import Settings
from tests.databases import temporary_postgres_database
from tests.hardening.conftest import COMPANY, QUICK_HTTP
from tests.hardening.killed_run import load_range
from tests.orchestration.conftest import store_emulated_connection
from warehouse.app_database import upgrade
from warehouse.vault import generate_key

REPO = Path(__file__).resolve().parents[2]
PLATFORM = "meta_ads"
END = datetime.now(UTC).date() - timedelta(days=1)
HISTORY = (END - timedelta(days=39), END - timedelta(days=10))
WINDOW_DAYS = 28
WINDOW = (END - timedelta(days=WINDOW_DAYS - 1), END)
BOOKKEEPING_TABLES = {"_dlt_loads", "_dlt_pipeline_state", "_dlt_version"}
BOOKKEEPING_COLUMNS = {"_dlt_load_id", "_dlt_id"}

Dump = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


@pytest.fixture(scope="module", autouse=True)
def run_environment() -> Iterator[None]:
    """One encryption key and quick retries for every run of this module, in this process and the killed ones."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TALLY_ENCRYPTION_KEYS", generate_key())
        for name, value in QUICK_HTTP.items():
            patch.setenv(f"TALLY_{name.upper()}", str(value))
        yield


@dataclass(frozen=True)
class World:
    """A client's files under ``root`` (app database, data dir, Dagster home) and its warehouse."""

    root: Path
    warehouse_url: str | None

    def tally(self, emulator_url: str) -> TallyResource:
        return TallyResource(
            data_dir=str(self.root / "tally"),
            app_database_url=f"sqlite:///{self.root / 'app.db'}",
            warehouse_url=self.warehouse_url,
            platform_base_url=emulator_url,
        )

    @property
    def dagster_home(self) -> str:
        return str(self.root / "dagster")


@pytest.fixture(scope="module")
def history(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, emulator_url: str
) -> Iterator[World]:
    """A client connected to Meta whose warehouse (DuckDB or PostgreSQL) holds 30 days of history, to copy."""
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()  # no fault left by an earlier test
    with ExitStack() as stack:
        warehouse_url = None
        if request.param == "postgres":
            warehouse_url = stack.enter_context(temporary_postgres_database("tally_killed_history"))
        world = World(tmp_path_factory.mktemp("history"), warehouse_url)
        upgrade(f"sqlite:///{world.root / 'app.db'}")
        tally = world.tally(emulator_url)
        with tally.app_engine().begin() as db:
            store_emulated_connection(db, tally.vault(), COMPANY, PLATFORM)
        tally.app_engine().dispose()
        Path(world.dagster_home).mkdir()
        with dg.DagsterInstance.local_temp(tempdir=world.dagster_home) as instance:
            assert load_range(instance, tally, PLATFORM, COMPANY, *HISTORY)
        yield world


@contextmanager
def copy_of(history: World, root: Path) -> Iterator[World]:
    """A client of its own with that history: its files and its warehouse copied."""
    shutil.copytree(history.root, root)
    if history.warehouse_url is None:
        yield World(root, None)
        return
    with temporary_postgres_database("tally_killed", template=history.warehouse_url) as url:
        yield World(root, url)


def warehouse_dump(settings: Settings) -> Dump:
    """Every table of the warehouse: its columns and all its rows, sorted (dlt's load journal left out)."""
    if settings.warehouse_url:
        engine = sa.create_engine(settings.warehouse_url)
        with engine.connect() as db:
            dump = dump_tables(lambda sql, *params: db.exec_driver_sql(sql.replace("?", "%s"), params).fetchall())
        engine.dispose()
        return dump
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
        return dump_tables(lambda sql, *params: db.execute(sql, params).fetchall())


def dump_tables(query: Callable[..., list[Any]]) -> Dump:
    tables = query(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema not in ('information_schema', 'pg_catalog') and table_type = 'BASE TABLE'"
    )
    dump = {}
    for schema, table in tables:
        if table in BOOKKEEPING_TABLES:
            continue
        columns = [
            name
            for (name,) in query(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by column_name",
                schema,
                table,
            )
            if name not in BOOKKEEPING_COLUMNS
        ]
        listed = ", ".join(f'"{name}"' for name in columns)
        order = ", ".join(str(n + 1) for n in range(len(columns)))
        dump[f"{schema}.{table}"] = (
            columns,
            [tuple(row) for row in query(f'select {listed} from "{schema}"."{table}" order by {order}')],
        )
    return dump


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory, history: World, emulator_url: str) -> Iterator[Dump]:
    """The warehouse after the history and the sync window loaded without interruption."""
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()
    with copy_of(history, tmp_path_factory.mktemp("undisturbed") / "world") as world:
        tally = world.tally(emulator_url)
        with dg.DagsterInstance.local_temp(tempdir=world.dagster_home) as instance:
            assert load_range(instance, tally, PLATFORM, COMPANY, *WINDOW)
        dump = warehouse_dump(tally.settings)
    assert len(dump[f"raw_{PLATFORM}.campaign_daily"][1]) > 100
    yield dump


def load_killed_at(kill_at: str, tally: TallyResource, home: str) -> subprocess.CompletedProcess[str]:
    """Load the sync window in a process of its own that SIGKILLs itself at ``kill_at``."""
    config = {
        "kill_at": kill_at,
        "dagster_home": home,
        "tally": tally.model_dump(),
        "platform": PLATFORM,
        "company_id": COMPANY,
        "start": WINDOW[0].isoformat(),
        "days": WINDOW_DAYS,
    }
    command = [sys.executable, "-m", "tests.hardening.killed_run", json.dumps(config)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["staging", "merge"])
@pytest.mark.parametrize("history", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_run_killed_during_its_load_and_run_again_leaves_the_warehouse_of_an_undisturbed_run(
    kill_at: str, tmp_path: Path, history: World, emulator_url: str, emulator: httpx.Client, undisturbed: Dump
) -> None:
    with copy_of(history, tmp_path / "world") as world:
        tally = world.tally(emulator_url)
        killed = load_killed_at(kill_at, tally, world.dagster_home)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        with dg.DagsterInstance.local_temp(tempdir=world.dagster_home) as instance:
            statuses = sorted(run.status.value for run in instance.get_runs())
            assert statuses == ["STARTED", "SUCCESS"], "the killed run should have died mid-way"
            assert load_range(instance, tally, PLATFORM, COMPANY, *WINDOW)

        assert warehouse_dump(tally.settings) == undisturbed
