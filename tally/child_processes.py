"""Child processes that stop together: each in its own process group, so stopping one stops what it spawned too.

The demo starts the Dagster daemon and webserver this way; they start code servers and run workers of their own,
and a signal to the group reaches all of them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

STOP_GRACE_SECONDS = 15


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ChildProcesses:
    """Start commands in their own process groups, logging to files; on exit, stop every group (TERM, then KILL)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: Sequence[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        """Start ``command`` in a new session (its own process group), stdout and stderr to ``<log_dir>/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                list(command),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((name, process))
        return process

    def check_alive(self) -> None:
        """Raise if a child has exited: the demo cannot go on without it."""
        for name, process in self.started:
            if process.poll() is not None:
                raise ChildExited(f"{name} exited with code {process.returncode}; see {self.log_dir / name}.log")

    def wait_for_url(self, url: str, timeout_seconds: float) -> None:
        """Wait until ``url`` answers 200, failing early if a child dies."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise ChildExited(f"{url} did not answer within {timeout_seconds:.0f} s")

    def stop_all(self) -> None:
        """SIGTERM every group, wait for them, SIGKILL what is left; newest first."""
        for _, process in reversed(self.started):
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for _, process in reversed(self.started):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            # The leader may be gone while workers it spawned linger in its group.
            _signal_group(process, signal.SIGKILL)
            process.wait()
        self.started.clear()

    def __enter__(self) -> ChildProcesses:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop_all()


class ChildExited(RuntimeError):
    """A child process the demo needs has stopped or never came up."""


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
