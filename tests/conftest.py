"""Fixtures shared by every test: the platform emulator on a real loopback port, and settings pointing at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipelines.emulator.app import create_emulator
from tally.background_server import serve_in_thread
from tally.settings import Settings

# dlt would otherwise try to send usage reports from every pipeline run.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """Base URL of one emulator serving all five platforms for the whole test session."""
    with serve_in_thread(create_emulator()) as url:
        yield url


@pytest.fixture()
def emulator(emulator_url: str) -> Iterator[httpx.Client]:
    """A client of the emulator's control routes, reset before each test."""
    with httpx.Client(base_url=emulator_url, timeout=30) as client:
        client.post("/_emulator/reset").raise_for_status()
        yield client


@pytest.fixture()
def settings(tmp_path: Path, emulator_url: str) -> Settings:
    """Settings with a private data dir, platforms pointed at the emulator, and quick retries."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "tally",
        http_backoff_factor=0.01,
        http_max_retry_delay_seconds=2,
        http_max_attempts=4,
        http_timeout_seconds=5,
    ).point_platforms_at(emulator_url)
