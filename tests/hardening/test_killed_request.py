"""A backfill whose run worker is SIGKILLed does not stay running for ever: Dagster's own daemon recovers it.

The stack is the production one on loopback (``tests/e2e/daemon_stack.py``): the API, and ``dagster-daemon run``
with its own copy of the repository's ``dagster_home/dagster.yaml`` in which only run monitoring's limits are short.
The platform answers slowly (the emulator's latency fault), so the run is still loading when the test kills its
worker process, and everything that worker started, with SIGKILL: no ``finally``, no event saying why, as the
out-of-memory killer or a lost machine would leave it. Until run monitoring steps in the request is running and the
client's next backfill answers 409. Then, with nothing done by the test but watching, Dagster fails the run (on one
machine the code server that started the worker sees it die; were that server lost too, run monitoring would once
the run outlived ``max_runtime_seconds``), the pool slot the run held is freed, the request reads failed with the
reason, and the next backfill is accepted and, with the platform answering normally again, succeeds.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import dagster as dg
import httpx
import pytest

from tests.e2e.conftest import processes_of
from tests.e2e.daemon_stack import DaemonStack, daemon_stack

pytestmark = pytest.mark.slow
COMPANY = "acme"
PLATFORM = "meta_ads"
BACKFILL_URL = f"/api/clients/{COMPANY}/connections/backfill"
# Short against the shipped 3600 s, yet longer than a healthy 30-day load on a busy machine (the next backfill's).
MAX_RUNTIME_SECONDS = 60
# Only the limits differ from the repository's dagster.yaml: the daemon, its monitoring and the pools are as shipped.
RUN_MONITORING = {
    "run_monitoring": {
        "max_runtime_seconds": MAX_RUNTIME_SECONDS,
        "poll_interval_seconds": 1,
        "free_slots_after_run_end_seconds": 1,
    }
}
WRITER_POOL = "warehouse_writer"
STARTED_PROCESS = re.compile(r"Started process for run \(pid: (\d+)\)")


def worker_pid(stack: DaemonStack, run_id: str) -> int | None:
    """The pid of the run's worker process, as Dagster recorded it when the worker started."""
    with dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            if found := STARTED_PROCESS.search(record.dagster_event.message or ""):
                return int(found.group(1))
    return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live process descended from it (the worker's step processes), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = [], [pid] if pid in parents else []
    while frontier:
        current = frontier.pop()
        tree.append(current)
        frontier.extend(child for child, parent in parents.items() if parent == current)
    return tree


def slot_holders(stack: DaemonStack) -> set[str]:
    """Runs holding, or queued for, a slot of the DuckDB writer pool."""
    with dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance:
        info = instance.event_log_storage.get_concurrency_info(WRITER_POOL)
        return info.active_run_ids | {step.run_id for step in info.pending_steps}


def loading_run(
    stack: DaemonStack, request_id: str, emulator: httpx.Client, account: str, before: int
) -> tuple[dg.DagsterRun, int] | None:
    """The request's run and its worker pid once the worker has started and asked the platform for data."""
    runs = [run for run in stack.runs_of(request_id) if run.status == dg.DagsterRunStatus.STARTED]
    asked = emulator.get(f"/_emulator/requests/{PLATFORM}/{account}").json()["requests"] > before
    if len(runs) == 1 and asked and (pid := worker_pid(stack, runs[0].run_id)):
        return runs[0], pid
    return None


@pytest.mark.timeout(360)
def test_a_killed_run_worker_is_failed_by_the_daemon_and_the_next_backfill_succeeds(
    tmp_path: Path, emulator: httpx.Client, emulator_url: str
) -> None:
    with daemon_stack(tmp_path, emulator_url, [COMPANY], RUN_MONITORING) as stack:
        account = stack.connect(COMPANY, PLATFORM)["account_id"]
        emulator.put(f"/_emulator/faults/{PLATFORM}/{account}", json={"delay_seconds": 60}).raise_for_status()
        before = emulator.get(f"/_emulator/requests/{PLATFORM}/{account}").json()["requests"]
        assert stack.api.post(BACKFILL_URL, json={"days": 30}).status_code == 202
        request_id = stack.backfill_state(COMPANY)["id"]

        run, pid = stack.wait_until(
            lambda: loading_run(stack, request_id, emulator, account, before), 120, "the run to start loading"
        )
        for process in process_tree(pid):
            os.kill(process, signal.SIGKILL)
        stack.wait_until(lambda: not process_tree(pid), 10, "the killed worker to be gone")
        assert stack.backfill_state(COMPANY)["status"] == "running"
        assert stack.api.post(BACKFILL_URL, json={"days": 30}).status_code == 409

        state = stack.wait_for_backfill(COMPANY, MAX_RUNTIME_SECONDS + 60)
        assert state["id"] == request_id
        assert state["status"] == "failed", state
        assert state["progress"][PLATFORM]["status"] == "failed", state
        assert state["error"] and "failed" in state["error"], state
        runs = stack.runs_of(request_id)
        assert [(r.run_id, r.status) for r in runs] == [(run.run_id, dg.DagsterRunStatus.FAILURE)]
        stack.wait_until(lambda: run.run_id not in slot_holders(stack), 30, "run monitoring to free the writer slot")

        emulator.delete("/_emulator/faults").raise_for_status()
        assert stack.api.post(BACKFILL_URL, json={"days": 30}).status_code == 202
        again = stack.wait_for_backfill(COMPANY, 120)
        assert again["id"] != request_id
        assert again["status"] == "succeeded", again
    assert processes_of(stack.dagster_home) == []
