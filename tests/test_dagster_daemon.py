"""The demo daemon's one use of Dagster's private API, pinned so that a Dagster upgrade that breaks it fails here.

These tests import ``dagster._daemon`` on purpose: what they check is exactly the private surface
``tally/dagster_daemon.py`` patches.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from types import SimpleNamespace

import dagster as dg
import pytest
from dagster._daemon import controller
from dagster._daemon.backfill import execute_backfill_iteration_loop

from tally.dagster_daemon import DEMO_DAEMON_INTERVAL_SECONDS, use_demo_interval

DAGSTER_BACKFILL_INTERVAL_SECONDS = 30


class RecordedWait(threading.Event):
    """A shutdown event that notes how long the daemon's loop asks to sleep, and does not sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return False


def backfill_loop_sleep() -> float | None:
    """How long Dagster's backfill daemon loop sleeps after one iteration over a real instance with no backfills."""
    shutdown = RecordedWait()
    with dg.DagsterInstance.ephemeral() as instance:
        # The loop reads only ``.instance`` of its workspace context when no backfill is in progress.
        loop = execute_backfill_iteration_loop(
            SimpleNamespace(instance=instance), logging.getLogger(__name__), shutdown
        )
        for _ in loop:
            if shutdown.timeouts:
                break
        loop.close()
    return shutdown.timeouts[0]


@pytest.fixture()
def restored_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's interval as it was, put back after the test."""
    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", controller.DEFAULT_DAEMON_INTERVAL_SECONDS)


def test_dagster_s_backfill_loop_sleeps_its_own_thirty_seconds(restored_interval: None) -> None:
    sleep = backfill_loop_sleep()
    assert sleep is not None and DAGSTER_BACKFILL_INTERVAL_SECONDS - 1 < sleep <= DAGSTER_BACKFILL_INTERVAL_SECONDS


def test_the_demo_interval_reaches_the_backfill_loop(restored_interval: None) -> None:
    use_demo_interval()
    sleep = backfill_loop_sleep()
    assert sleep is not None and DEMO_DAEMON_INTERVAL_SECONDS - 1 < sleep <= DEMO_DAEMON_INTERVAL_SECONDS


def test_the_demo_daemon_runs_the_same_entry_point_as_dagster_daemon() -> None:
    (script,) = entry_points(group="console_scripts", name="dagster-daemon")
    assert script.value == "dagster._daemon.cli:main"
