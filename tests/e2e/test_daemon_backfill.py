"""A backfill through Dagster's own daemon: the moment the API says ``succeeded``, ``/results`` serves its spend.

Two platforms of one client are connected through the API, a 30-day backfill is posted, and the backfill route is
polled until it is final. The run_requests sensor, the backfill and run queue daemons and the run workers are the
stock ones (``dagster-daemon run`` on the repository's workspace and dagster.yaml), and the instance's storage is
either the default SQLite or the PostgreSQL server (``dagster-postgres``, as in ``deploy/dagster.yaml``). The
expected spend is the platforms' own daily reports over the backfilled days, read from the emulator over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from pipelines.emulator.accounts import emulator_credentials
from tests.databases import dagster_postgres_storage, temporary_postgres_database
from tests.e2e.conftest import processes_of
from tests.e2e.daemon_stack import DaemonStack, daemon_stack
from tests.e2e.emulator_spend import account_timezone, backfill_days, served_spend

pytestmark = pytest.mark.slow
COMPANY = "acme"
DAYS = 30
# Seed 4's accounts keep their days in Los Angeles and Chicago: their "yesterday" turns over in the UTC morning.
PLATFORM_SEEDS = {"meta_ads": 4, "tiktok_ads": 4}
BACKFILL_TIMEOUT_SECONDS = 180


@dataclass
class DagsterStorage:
    """Changes to the repository's dagster.yaml, and the database the runs must land in (None: the default)."""

    instance_changes: dict[str, Any]
    postgres_url: str | None = None

    def stored_run_ids(self) -> set[str]:
        """The run ids in the PostgreSQL database's ``runs`` table: proof the instance wrote there."""
        assert self.postgres_url is not None
        engine = sa.create_engine(self.postgres_url)
        try:
            with engine.connect() as db:
                return set(db.execute(sa.text("select run_id from runs")).scalars())
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dagster_storage(request: pytest.FixtureRequest) -> Iterator[DagsterStorage]:
    """The instance's storage: the repository's default (SQLite in DAGSTER_HOME), or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield DagsterStorage({})
        return
    with temporary_postgres_database("tally_dagster") as url:
        yield DagsterStorage(dagster_postgres_storage(url), url)


def expected_spend(emulator: httpx.Client, now: datetime, period: tuple[date, date]) -> Decimal:
    """The platforms' own spend over the backfilled days that fall in the period, as of ``now``."""
    total = Decimal(0)
    for platform, seed in PLATFORM_SEEDS.items():
        credentials = emulator_credentials(platform, seed)
        first, last = backfill_days(account_timezone(emulator, platform, credentials), DAYS, now)
        first, last = max(first, period[0]), min(last, period[1])
        if first <= last:
            total += served_spend(emulator, platform, credentials, first, last)
    return total.quantize(Decimal("0.01"))


def finished_runs(stack: DaemonStack, request_id: str) -> list[dg.DagsterRun]:
    """The request's Dagster runs once every one of them has finished (none while one is still going)."""
    runs = stack.runs_of(request_id)
    return runs if runs and all(run.is_finished for run in runs) else []


def money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


@pytest.mark.timeout(420)
def test_a_backfill_reads_succeeded_only_once_results_serve_its_spend(
    tmp_path: Path, emulator: httpx.Client, emulator_url: str, dagster_storage: DagsterStorage
) -> None:
    with daemon_stack(tmp_path, emulator_url, [COMPANY], dagster_storage.instance_changes) as stack:
        for platform, seed in PLATFORM_SEEDS.items():
            stack.connect(COMPANY, platform, seed)
        posted_at = datetime.now(UTC)
        answer = stack.api.post(f"/api/clients/{COMPANY}/connections/backfill", json={"days": DAYS})
        assert (answer.status_code, answer.json()) == (202, {"message": f"Backfill started for {DAYS} days"})

        state = stack.wait_for_backfill(COMPANY, BACKFILL_TIMEOUT_SECONDS)
        # No waiting: what a client reads right after its backfill says succeeded.
        period_end = posted_at.date() - timedelta(days=1)
        results = stack.api.get(
            f"/api/clients/{COMPANY}/results", params={"period_type": "year", "period_end": period_end.isoformat()}
        )
        finished_at = datetime.now(UTC)
        assert state["status"] == "succeeded", state
        assert {platform: state["progress"][platform]["status"] for platform in PLATFORM_SEEDS} == dict.fromkeys(
            PLATFORM_SEEDS, "succeeded"
        ), state
        assert results.status_code == 200, results.text
        body = results.json()
        period = (date.fromisoformat(body["period"]["start"]), date.fromisoformat(body["period"]["end"]))
        served = {metric["metric_key"]: metric for metric in body["metrics"]}
        # A backfill posted just before an account's local midnight may have loaded either day's window.
        expected = {expected_spend(emulator, moment, period) for moment in (posted_at, finished_at)}
        assert "spend" in served, f"/results served no spend when the backfill read succeeded: {body}"
        assert money(served["spend"]["value"]) in expected, (served["spend"], expected)
        assert set(body["connected_platforms"]) == set(PLATFORM_SEEDS)

        runs = stack.wait_until(lambda: finished_runs(stack, state["id"]), 60, "the request's runs to finish")
        assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}, runs
        assert {run.tags["tally/company_id"] for run in runs} == {COMPANY}
        if dagster_storage.postgres_url:
            assert {run.run_id for run in runs} <= dagster_storage.stored_run_ids()
    assert processes_of(stack.dagster_home) == []
