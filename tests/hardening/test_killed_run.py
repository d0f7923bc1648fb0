"""A run SIGKILLed during its load, then run again, leaves the warehouse row for row as an undisturbed run leaves it.

Both warehouses first hold 30 days of a client's Meta history; then a 28-day sync window overlapping it is loaded,
undisturbed in one and, in the other, by a run in its own process that is SIGKILLed at a point of its load
(``tests/hardening/killed_run.py``) and then run again in-process. Every table of the two DuckDB files is dumped
whole and sorted and compared, with two exclusions, both dlt's journal of load attempts rather than data:
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
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest

from orchestration.resources import TallyResource
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


def world_at(root: Path, emulator_url: str) -> tuple[TallyResource, Path]:
    """The Tally resource and the Dagster home of a client whose files are under ``root``."""
    url = f"sqlite:///{root / 'app.db'}"
    return TallyResource(
        data_dir=str(root / "tally"), app_database_url=url, platform_base_url=emulator_url
    ), root / "dagster"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> Path:
    """A client connected to Meta whose warehouse holds 30 days of history: the folder of its files, to copy."""
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()  # no fault left by an earlier test
    root = tmp_path_factory.mktemp("history")
    upgrade(f"sqlite:///{root / 'app.db'}")
    tally, home = world_at(root, emulator_url)
    with tally.app_engine().begin() as db:
        store_emulated_connection(db, tally.vault(), COMPANY, PLATFORM)
    tally.app_engine().dispose()
    home.mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        assert load_range(instance, tally, PLATFORM, COMPANY, *HISTORY)
    return root


def copy_of(history: Path, root: Path, emulator_url: str) -> tuple[TallyResource, Path]:
    """A client of its own with that history."""
    shutil.copytree(history, root)
    return world_at(root, emulator_url)


def warehouse_dump(path: Path) -> Dump:
    """Every table of a DuckDB file: its columns and all its rows, sorted (dlt's load journal left out)."""
    with duckdb.connect(str(path), read_only=True) as db:
        tables = db.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = current_database()"
        ).fetchall()
        dump = {}
        for schema, table in tables:
            if table in BOOKKEEPING_TABLES:
                continue
            columns = [
                name
                for (name,) in db.execute(
                    "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                    "order by column_name",
                    [schema, table],
                ).fetchall()
                if name not in BOOKKEEPING_COLUMNS
            ]
            listed = ", ".join(f'"{name}"' for name in columns)
            dump[f"{schema}.{table}"] = (
                columns,
                db.execute(f'select {listed} from "{schema}"."{table}" order by all').fetchall(),
            )
    return dump


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory, history: Path, emulator_url: str) -> Dump:
    """The warehouse after the history and the sync window loaded without interruption."""
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()
    tally, home = copy_of(history, tmp_path_factory.mktemp("undisturbed") / "world", emulator_url)
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        assert load_range(instance, tally, PLATFORM, COMPANY, *WINDOW)
    dump = warehouse_dump(tally.settings.duckdb_path)
    assert len(dump[f"raw_{PLATFORM}.campaign_daily"][1]) > 100
    return dump


def load_killed_at(kill_at: str, tally: TallyResource, home: Path) -> subprocess.CompletedProcess[str]:
    """Load the sync window in a process of its own that SIGKILLs itself at ``kill_at``."""
    config = {
        "kill_at": kill_at,
        "dagster_home": str(home),
        "tally": tally.model_dump(),
        "platform": PLATFORM,
        "company_id": COMPANY,
        "start": WINDOW[0].isoformat(),
        "days": WINDOW_DAYS,
    }
    command = [sys.executable, "-m", "tests.hardening.killed_run", json.dumps(config)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["staging", "merge", "stale rows"])
def test_a_run_killed_during_its_load_and_run_again_leaves_the_warehouse_of_an_undisturbed_run(
    kill_at: str, tmp_path: Path, history: Path, emulator_url: str, emulator: httpx.Client, undisturbed: Dump
) -> None:
    tally, home = copy_of(history, tmp_path / "world", emulator_url)

    killed = load_killed_at(kill_at, tally, home)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        statuses = sorted(run.status.value for run in instance.get_runs())
        assert statuses == ["STARTED", "SUCCESS"], "the killed run should have died mid-way"
        assert load_range(instance, tally, PLATFORM, COMPANY, *WINDOW)

    assert warehouse_dump(tally.settings.duckdb_path) == undisturbed
