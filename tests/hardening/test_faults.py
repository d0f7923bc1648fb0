"""Platform faults during a backfill: each platform's run completes or fails with a recorded reason, the API answers.

One backfill request covers all five platforms of a company, and the emulator gives each platform one fault: 429s,
500s, timeouts, truncated JSON, or its token revoked after a few pages. Each platform's outcome is then read back
through the API's backfill status route and from the Dagster instance, and must agree; a thread polls the API
throughout and every answer must be a quick 200.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import httpx
import pytest

from pipelines.registry import PLATFORMS
from tests.hardening.conftest import COMPANY, Stack
from tests.orchestration.conftest import store_emulated_connection
from warehouse import run_requests as requests_store
from warehouse.vault import CredentialVault


@dataclass(frozen=True)
class Fault:
    """A fault plan for the emulator and what a run under it must end as."""

    plan: dict[str, Any]
    status: str
    reason: str | None = None  # words the recorded error must hold when the run fails


FAULTS = {
    # Fewer throttles than attempts: the retrying session waits them out (Retry-After: 1 s).
    "429s": Fault({"rate_limit": 2}, "succeeded"),
    # More 500s than attempts: the run gives up and says so.
    "500s": Fault({"server_error": 10}, "failed", "server error after retries"),
    # Every answer slower than the 2 s request timeout.
    "timeouts": Fault({"delay_seconds": 3}, "failed", "could not reach the API"),
    # One body cut in half: a broken transfer, worth another attempt like a dropped connection.
    "truncated JSON": Fault({"truncate": 1}, "succeeded"),
    # The token dies after two requests, mid-way through small pages.
    "token revoked mid-run": Fault({"revoke_after": 2, "page_size": 5}, "failed", None),
}


@dataclass
class Poller:
    """A thread that calls the API's read routes until stopped, keeping each answer's status and time."""

    api: httpx.Client
    answers: list[tuple[int, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        paths = [f"/api/clients/{COMPANY}/connections/backfill", f"/api/clients/{COMPANY}/connections"]
        while not self.stop.is_set():
            for path in paths:
                started = time.monotonic()
                status = self.api.get(path).status_code
                self.answers.append((status, time.monotonic() - started))
            time.sleep(0.05)


@contextmanager
def polling(api: httpx.Client) -> Iterator[Poller]:
    """Poll the API's read routes from another thread for the duration of the block."""
    poller = Poller(httpx.Client(base_url=str(api.base_url), headers=api.headers, timeout=10))
    thread = threading.Thread(target=poller.run, name="api-poller", daemon=True)
    thread.start()
    try:
        yield poller
    finally:
        poller.stop.set()
        thread.join(timeout=15)
        poller.api.close()


def connect_all(stack: Stack) -> dict[str, dict[str, Any]]:
    """An active connection of COMPANY to each platform's emulated account."""
    vault = CredentialVault.from_settings(stack.settings)
    with stack.app_engine.begin() as db:
        return {platform: store_emulated_connection(db, vault, COMPANY, platform) for platform in PLATFORMS}


def dagster_outcome(instance: dg.DagsterInstance, request_id: str, platform: str) -> tuple[str, str | None]:
    """Whether the request's run failed for the platform (``SUCCESS`` or ``FAILURE``), and the platform's reason as
    Dagster recorded it: the run's failure carries each failed platform's reason in its metadata."""
    [run] = instance.get_runs(
        filters=dg.RunsFilter(tags={"tally/request_id": request_id}, job_name="client_refresh_job")
    )
    reasons = [
        entry.text
        for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        if (failure := record.dagster_event.step_failure_data.user_failure_data) is not None
        and (entry := failure.metadata.get(platform)) is not None
    ]
    return ("FAILURE" if reasons else "SUCCESS"), (reasons[0] if reasons else None)


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["duckdb"], indirect=True)  # faults end before the load: one warehouse is enough
def test_each_platform_completes_or_fails_with_its_reason_while_the_api_answers(
    stack: Stack, emulator: httpx.Client
) -> None:
    connections = connect_all(stack)
    faults = dict(zip(PLATFORMS, FAULTS.values(), strict=True))
    for platform, fault in faults.items():
        emulator.put(f"/_emulator/faults/{platform}/{connections[platform]['account_id']}", json=fault.plan)
    with stack.app_engine.begin() as db:  # the API only backfills ad platforms; the outbox takes any
        request_id = requests_store.create_request(db, COMPANY, "backfill", list(PLATFORMS), "hardening", days=30)

    with polling(stack.api) as poller:
        outcomes = stack.run_pending()

    state = stack.api.get(f"/api/clients/{COMPANY}/connections/backfill").json()["backfill"]
    assert state["id"] == request_id and state["status"] == "failed"
    for platform, fault in faults.items():
        progress = state["progress"][platform]
        assert progress["status"] == fault.status, (platform, fault, progress)
        assert outcomes[platform] == (fault.status == "succeeded")
        run_status, description = dagster_outcome(stack.instance, request_id, platform)
        if fault.status == "succeeded":
            assert (run_status, progress["error"]) == ("SUCCESS", None)
            continue
        assert run_status == "FAILURE" and description == progress["error"]
        assert progress["error"].startswith(PLATFORMS[platform].display_name), progress["error"]
        assert fault.reason is None or fault.reason in progress["error"], progress["error"]
    assert poller.answers and {status for status, _ in poller.answers} == {200}
    assert max(seconds for _, seconds in poller.answers) < 2
