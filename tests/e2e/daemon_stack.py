"""Tally as it runs in production, on loopback: the API in this process, Dagster's own daemon as a child process.

``daemon_stack`` gives a test a private ``DAGSTER_HOME`` holding a copy of the repository's
``dagster_home/dagster.yaml`` (with the test's changes merged in, e.g. storage on PostgreSQL or a short run
monitoring limit), the app database and the DuckDB warehouse under a tmp data dir, the API served by uvicorn, and
``dagster-daemon run`` on the repository's ``workspace.yaml`` with the same TALLY_* settings, as the demo starts it.
Nothing in between is faked: the API writes the outbox, the daemon's sensor reads it, the daemon launches the
runs, and the test watches only what a user or an operator can see (API answers, runs on the instance, the
warehouse as the API serves it).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import yaml
from pydantic import SecretStr

from api.main import create_app
from pipelines.emulator.accounts import emulator_credentials
from tally.background_server import serve_in_thread
from tally.child_processes import ChildProcesses
from tally.demo import create_dagster_storage
from tally.settings import Settings
from tests.api.conftest import JWT_SECRET
from tests.hardening.conftest import bearer_token
from warehouse.app_database import upgrade
from warehouse.vault import generate_key

REPO_ROOT = Path(__file__).resolve().parents[2]
TAG_REQUEST = "tally/request_id"
FINAL_STATUSES = {"succeeded", "failed"}
# Platform calls retry quickly so a fault plays out in seconds; a slow answer (latency fault) still fits in one.
QUICK_HTTP = {
    "TALLY_HTTP_BACKOFF_FACTOR": "0.01",
    "TALLY_HTTP_MAX_RETRY_DELAY_SECONDS": "1",
    "TALLY_HTTP_MAX_ATTEMPTS": "3",
    "TALLY_HTTP_TIMEOUT_SECONDS": "90",
}


@dataclass
class DaemonStack:
    """The API client, the settings the runs share, and the Dagster home the daemon works in."""

    api: httpx.Client
    settings: Settings
    dagster_home: Path
    children: ChildProcesses

    def connect(self, company: str, platform: str, seed: int = 1) -> dict[str, Any]:
        """Connect a company to an emulated account through ``POST .../connections``; the connection."""
        body = {"platform": platform, "credentials": emulator_credentials(platform, seed)}
        response = self.api.post(f"/api/clients/{company}/connections", json=body)
        assert response.status_code == 201, response.text
        return response.json()["connection"]

    def backfill_state(self, company: str) -> dict[str, Any] | None:
        """What ``GET .../connections/backfill`` says about the company's latest backfill."""
        response = self.api.get(f"/api/clients/{company}/connections/backfill")
        assert response.status_code == 200, response.text
        return response.json()["backfill"]

    def wait_for_backfill(self, company: str, timeout_seconds: float) -> dict[str, Any]:
        """Poll the backfill route until it reads final; the state it read then."""
        return self.wait_until(
            lambda: state if (state := self.backfill_state(company)) and state["status"] in FINAL_STATUSES else None,
            timeout_seconds,
            f"the backfill of {company} to finish",
            interval_seconds=0.2,
        )

    def runs_of(self, request_id: str) -> list[dg.DagsterRun]:
        """The Dagster runs launched for one API request, found by its tag."""
        with dg.DagsterInstance.from_config(str(self.dagster_home)) as instance:
            return list(instance.get_runs(dg.RunsFilter(tags={TAG_REQUEST: request_id})))

    def wait_until(
        self, probe: Callable[[], Any], timeout_seconds: float, what: str, interval_seconds: float = 0.5
    ) -> Any:
        """Call ``probe`` until it returns something truthy; fail with the daemon's log if it never does."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            self.children.check_alive()
            if found := probe():
                return found
            time.sleep(interval_seconds)
        pytest.fail(f"waited {timeout_seconds:.0f} s for {what}" + self.daemon_log_tail())

    def daemon_log_tail(self, lines: int = 60) -> str:
        """The end of the daemon's log, for a failure message."""
        log = self.dagster_home.parent / "logs" / "dagster-daemon.log"
        text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
        return "\n--- dagster-daemon.log (tail)\n" + "\n".join(text)


def instance_yaml(changes: dict[str, Any]) -> dict[str, Any]:
    """The repository's dagster.yaml with ``changes`` merged in (nested mappings merged key by key)."""
    return merged(yaml.safe_load((REPO_ROOT / "dagster_home" / "dagster.yaml").read_text()), changes)


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` on top, recursing into mappings both hold."""
    result = dict(base)
    for key, value in changes.items():
        both_mappings = isinstance(value, dict) and isinstance(result.get(key), dict)
        result[key] = merged(result[key], value) if both_mappings else value
    return result


def daemon_environment(settings: Settings, dagster_home: Path, emulator_url: str) -> dict[str, str]:
    """The environment of the daemon and the runs it launches: this stack's data dir, keys and emulator."""
    assert settings.encryption_keys is not None
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("TALLY_", "DAGSTER_"))}
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), inherited.get("PYTHONPATH")]))
    return (
        inherited
        | QUICK_HTTP
        | {
            "DAGSTER_HOME": str(dagster_home),
            "TALLY_DATA_DIR": str(settings.data_dir),
            "TALLY_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
            "TALLY_PLATFORM_BASE_URL": emulator_url,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "PYTHONPATH": python_path,
            "PYTHONUNBUFFERED": "1",
        }
    )


@contextmanager
def daemon_stack(
    tmp_path: Path, emulator_url: str, companies: list[str], instance_changes: dict[str, Any] | None = None
) -> Iterator[DaemonStack]:
    """Start the API and ``dagster-daemon`` on private storage; stop the daemon's process group and reap it after."""
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml(instance_changes or {})))
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "tally",
        encryption_keys=SecretStr(generate_key()),
        jwt_secret=SecretStr(JWT_SECRET),
    ).point_platforms_at(emulator_url)
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.resolved_app_database_url)
    create_dagster_storage(dagster_home)
    env = daemon_environment(settings, dagster_home, emulator_url)
    daemon = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")]
    with ExitStack() as stack:
        url = stack.enter_context(serve_in_thread(create_app(settings)))
        headers = {"Authorization": f"Bearer {bearer_token(companies)}"}
        api = stack.enter_context(httpx.Client(base_url=url, headers=headers, timeout=60))
        children = stack.enter_context(ChildProcesses(tmp_path / "logs"))
        children.start("dagster-daemon", daemon, env, REPO_ROOT)
        yield DaemonStack(api, settings, dagster_home, children)
