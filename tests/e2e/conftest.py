"""The demo as a newcomer runs it: ``tally demo`` in a child process, read line by line, stopped with Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


class RunningDemo:
    """A ``tally demo`` child process whose output is collected as it comes."""

    def __init__(self, args: list[str], data_dir: Path) -> None:
        self.data_dir = data_dir
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TALLY_", "DAGSTER_"))}
        env |= {"TALLY_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tally.cli", "demo", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout_seconds: float) -> str:
        """The first output line (stripped) starting with ``prefix``; fails with the output so far if none comes."""
        deadline = time.monotonic() + timeout_seconds
        for line in self.lines:
            if line.strip().startswith(prefix):
                return line.strip()
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if line.strip().startswith(prefix):
                return line.strip()
        pytest.fail(f"the demo never printed {prefix!r}; its output:\n" + "\n".join(self.lines) + self._logs())

    def interrupt(self, timeout_seconds: float = 60) -> int:
        """Ctrl-C, as a person would press it; the exit code."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=timeout_seconds)
        self.wait_for("Stopped.", timeout_seconds=5)
        return code

    def _logs(self) -> str:
        logs = sorted((self.data_dir / "logs").glob("*.log"))
        return "".join(f"\n--- {log.name} (tail)\n" + "\n".join(log.read_text().splitlines()[-40:]) for log in logs)


@pytest.fixture()
def start_demo(tmp_path: Path) -> Iterator:
    """Start ``tally demo`` with the given arguments in a private data dir; killed at the end if still running."""
    started: list[RunningDemo] = []

    def start(*args: str) -> RunningDemo:
        demo = RunningDemo(list(args), tmp_path / "tally")
        started.append(demo)
        return demo

    yield start
    for demo in started:
        if demo.process.poll() is None:
            demo.process.send_signal(signal.SIGINT)
            try:
                demo.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                demo.process.kill()
                demo.process.wait()


def processes_of(dagster_home: Path) -> list[int]:
    """Pids of live processes started with this ``DAGSTER_HOME``: what the demo's Dagster children leave behind."""
    marker = f"DAGSTER_HOME={dagster_home}".encode()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0") and b"Z" not in _state(proc):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _state(proc: Path) -> bytes:
    """The process state letter from /proc/<pid>/stat (Z for a zombie waiting to be reaped)."""
    stat = (proc / "stat").read_bytes()
    return stat[stat.rindex(b")") + 2 :][:1]
