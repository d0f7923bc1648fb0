"""A real ``tally api`` process for the service tests: its own process group, its log in a file, its settings in
its environment only, and a helper that publishes hand-made marts for it to serve."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tally.settings import Settings
from tests.ports import child_port
from tests.results_data import CampaignDay, Fixture, build_duckdb
from warehouse.serving import publish
from warehouse.vault import generate_key

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ApiProcess:
    """A running ``tally api``: its base URL, its process (the group leader) and the file it logs to."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_lines(self) -> list[str]:
        """Every line the process has logged so far."""
        return self.log_path.read_text(errors="replace").splitlines()


def process_settings(tmp_path: Path, **update: Any) -> Settings:
    """Settings of a ``tally api`` under test: its own data dir and SQLite app database, real keys (not migrated:
    a test of readiness starts without the tables)."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "tally",
        app_database_url=f"sqlite:///{tmp_path / 'app.db'}",
        jwt_secret=secrets.token_urlsafe(48),
        encryption_keys=generate_key(),
        **update,
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives a ``tally api`` exactly these settings (inherited ``TALLY_*`` dropped)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TALLY_", "PROMETHEUS_"))}
    env.update(
        TALLY_DATA_DIR=str(settings.data_dir),
        TALLY_APP_DATABASE_URL=settings.resolved_app_database_url,
        TALLY_ROLLUP_CACHE_CELLS=str(settings.rollup_cache_cells),
        TALLY_API_SHUTDOWN_TIMEOUT_SECONDS=str(settings.api_shutdown_timeout_seconds),
    )
    if settings.jwt_secret:
        env["TALLY_JWT_SECRET"] = settings.jwt_secret.get_secret_value()
    if settings.encryption_keys:
        env["TALLY_ENCRYPTION_KEYS"] = settings.encryption_keys.get_secret_value()
    if settings.warehouse_url:
        env["TALLY_WAREHOUSE_URL"] = settings.warehouse_url
    if settings.platform_base_url:
        env["TALLY_PLATFORM_BASE_URL"] = settings.platform_base_url
    return env


@contextlib.contextmanager
def tally_api(
    settings: Settings, log_path: Path, args: Sequence[str] = (), wait_path: str = "/readyz", timeout: float = 90
) -> Iterator[ApiProcess]:
    """Start ``tally api`` on a free port with ``args``; yield it once ``wait_path`` answers 200; stop its group."""
    port = child_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tally.cli", "api", "--port", str(port), *args],
            cwd=REPOSITORY,
            env=settings_environment(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = ApiProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_for(api, wait_path, timeout)
        yield api
    finally:
        stop(process)


def wait_for(api: ApiProcess, path: str, timeout: float) -> None:
    """Poll ``path`` until it answers 200; fail with the log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            tail = "\n".join(api.log_lines()[-30:])
            raise AssertionError(f"tally api exited with {api.process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(api.url + path, timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{path} did not answer 200 in {timeout} s:\n" + "\n".join(api.log_lines()[-30:]))


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group, then SIGKILL whatever is left of it after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def publish_marts(settings: Settings, data: Fixture) -> None:
    """Build the DuckDB warehouse of ``settings`` afresh from ``data`` and publish it, as a marts refresh would."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for leftover in (settings.duckdb_path, settings.duckdb_path.with_suffix(".duckdb.wal")):
        leftover.unlink(missing_ok=True)
    with build_duckdb(str(settings.duckdb_path), data) as warehouse:
        publish(warehouse, settings.serving_dir)


DAY = date(2024, 3, 5)


def one_day(company: str, spend: int) -> Fixture:
    """One Meta campaign day of ``company`` in March 2024 spending ``spend`` USD, with a day of sales and traffic."""
    campaign = CampaignDay(company, "meta_ads", "m1", "Spring Sale", DAY, Decimal(spend), 100, 5, Decimal(1),
                           Decimal(30), 80)  # fmt: skip
    sales = [(company, DAY, 2, Decimal(60), "USD")]
    traffic = [(company, DAY, "spring", "google / cpc", 40, Decimal(3), Decimal(0), "USD")]
    return Fixture([campaign], sales, traffic)


def request_line(api: ApiProcess, request_id: str, timeout: float = 10) -> dict[str, Any]:
    """The request log line of ``request_id`` (written just after its response went out, so waited for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in api.log_lines():
            if request_id in line:
                entry = json.loads(line)
                if entry.get("message") == "request" and entry.get("request_id") == request_id:
                    return entry
        time.sleep(0.02)
    raise AssertionError(f"no request line for {request_id}")
