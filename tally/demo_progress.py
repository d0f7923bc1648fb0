"""What the demo shows while it loads: a bar of partitions done per company and platform, and the marts' state."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

BAR_WIDTH = 30
MARTS_STATES = {
    "waiting": "waiting for the loads",
    "running": "rebuilding",
    "published": "published",
    "failed": "failed",
}


class ProgressBoard:
    """Redraws the board in place on a terminal; elsewhere (a pipe, a log) prints only the lines that changed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.redraw = out.isatty()
        self.drawn: list[str] = []

    def show(self, states: dict[str, dict[str, Any] | None], marts: dict[str, str]) -> None:
        """Draw one board: each company's platforms (from the API's backfill state) and its marts."""
        lines = [line for company, state in states.items() for line in company_lines(company, state, marts[company])]
        if self.redraw:
            if self.drawn:
                self.out.write(f"\x1b[{len(self.drawn)}F")
            self.out.write("".join(f"\x1b[2K{line}\n" for line in lines))
        else:
            self.out.write("".join(f"{line}\n" for line in lines if line not in self.drawn))
        self.out.flush()
        self.drawn = lines

    def done(self) -> None:
        self.drawn = []


def company_lines(company: str, state: dict[str, Any] | None, marts: str) -> list[str]:
    """A bar per platform of the company's latest backfill, then its marts."""
    if state is None:
        return [f"{company:<9} waiting for the backfill request"]
    lines = []
    for platform, entry in sorted(state["progress"].items()):
        done, total = entry["partitions_done"], entry["partitions_total"]
        status = entry["status"] if entry["status"] != "running" else "loading"
        lines.append(f"{company:<9} {platform:<11} {bar(done, total)} {done:>3}/{total:<3} partitions  {status}")
    if not state["progress"]:
        lines.append(f"{company:<9} backfill {state['status']}: waiting for the Dagster sensor to launch it")
    lines.append(f"{company:<9} {'marts':<11} {MARTS_STATES[marts]}")
    return lines


def bar(done: int, total: int) -> str:
    """``[#########.........]`` for ``done`` of ``total``."""
    filled = BAR_WIDTH * done // total if total else 0
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"


class MartsWatch:
    """Reads the Dagster instance for the marts run the sensor launches once a request's loads are done."""

    def __init__(self, dagster_home: Path) -> None:
        self.dagster_home = dagster_home
        self._instance: Any = None

    def status(self, request_id: str) -> str:
        """``waiting`` (no marts run yet), ``running``, ``published`` or ``failed``."""
        import dagster as dg

        from orchestration.sensors import TAG_PLATFORM, TAG_REQUEST

        if self._instance is None:
            self._instance = dg.DagsterInstance.from_config(str(self.dagster_home))
        runs = self._instance.get_runs(filters=dg.RunsFilter(tags={TAG_REQUEST: request_id}))
        statuses = {run.status for run in runs if TAG_PLATFORM not in run.tags}
        if dg.DagsterRunStatus.SUCCESS in statuses:
            return "published"
        if statuses & {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}:
            return "failed"
        return "running" if statuses else "waiting"
