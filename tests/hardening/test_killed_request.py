"""A backfill whose run is SIGKILLed does not stay running for ever: run monitoring fails it, the request records why.

The Dagster instance is configured by the repository's ``dagster_home/dagster.yaml``. The run of a backfill request
is killed during its load in a process of its own; until run monitoring steps in, the request is running and the
client's next backfill answers 409. Run monitoring (Dagster's own ``check_run_timeout``, as its daemon calls it once
``max_runtime_seconds`` has passed) fails the run, the backfill daemon marks the backfill failed, and the
run_requests sensor records the reason, which the API's backfill status route shows; once the killed run's
warehouse_writer slot is freed (run monitoring's slot sweep), a new backfill is accepted and runs, and removes the
dlt working folder the killed run left behind.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import httpx
import pytest
from dagster._core.execution.backfill import BulkActionStatus
from dagster._daemon.monitoring.run_monitoring import check_run_timeout

from tests.hardening.conftest import COMPANY, Stack
from tests.orchestration.conftest import backfills, run_backfill, store_emulated_connection, tick
from warehouse.vault import CredentialVault

REPO = Path(__file__).resolve().parents[2]
BACKFILL_URL = f"/api/clients/{COMPANY}/connections/backfill"


def repository_instance(home: Path) -> dg.DagsterInstance:
    """A Dagster instance in ``home`` configured by the repository's dagster.yaml."""
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return dg.DagsterInstance.from_config(str(home))


def run_outbox_killed_during_load(stack: Stack, home: Path) -> None:
    """Run the outbox's pending request in a process of its own that SIGKILLs itself at its staging copy."""
    config = {"kill_at": "staging", "dagster_home": str(home), "tally": stack.tally.model_dump(), "outbox": True}
    command = [sys.executable, "-m", "tests.hardening.killed_run", json.dumps(config)]
    killed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["duckdb"], indirect=True)
def test_a_killed_backfill_run_is_failed_by_run_monitoring_and_its_request_says_why(
    stack: Stack, emulator: httpx.Client, tmp_path: Path
) -> None:
    with stack.app_engine.begin() as db:
        store_emulated_connection(db, CredentialVault.from_settings(stack.settings), COMPANY, "meta_ads")
    assert stack.api.post(BACKFILL_URL, json={"days": 30}).status_code == 202
    home = tmp_path / "dagster_home"
    with repository_instance(home) as instance:
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_runtime_seconds > 0
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0
    run_outbox_killed_during_load(stack, home)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED and run.tags["tally/platform"] == "meta_ads"
        abandoned = stack.settings.data_dir / "dlt" / "runs" / run.run_id
        assert abandoned.is_dir(), "the killed run's dlt working folder"
        tick(instance, stack.tally)
        assert stack.api.get(BACKFILL_URL).json()["backfill"]["status"] == "running"
        assert stack.api.post(BACKFILL_URL, json={"days": 30}).status_code == 409

        check_run_timeout(instance, instance.get_run_record_by_id(run.run_id), logging.getLogger("test"), 0.001)
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        [backfill] = instance.get_backfills()  # what the backfill daemon does once the backfill's run has failed
        instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_FAILED))
        tick(instance, stack.tally)

        state = stack.api.get(BACKFILL_URL).json()["backfill"]
        assert state["status"] == "failed"
        assert state["progress"]["meta_ads"]["status"] == "failed"
        assert "maximum runtime" in state["progress"]["meta_ads"]["error"], state
        assert state["error"].startswith("meta_ads: the run failed: ")

        # The killed run still holds the warehouse_writer slot: every load would wait for it. Run monitoring's slot
        # sweep frees it free_slots_after_run_end_seconds after the run ended; here at once, as that sweep does.
        assert run.run_id in instance.event_log_storage.get_concurrency_run_ids()
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)

        assert stack.api.post(BACKFILL_URL, json={"days": 30}).status_code == 202
        assert [run_backfill(instance, stack.tally, rr) for rr in backfills(tick(instance, stack.tally))] == [True]
        assert not abandoned.exists(), "the next run removes the working folder the killed run left"
