"""What the demo shows while it loads: a bar of partitions done per company and platform, and its marts step."""

from __future__ import annotations

from typing import Any, TextIO

from tally.run_tags import MARTS_STEP

BAR_WIDTH = 30
STEP_STATES = {"running": "loading", "succeeded": "loaded"}
MARTS_STATES = {
    "waiting": "waiting for the loads",
    "running": "rebuilding",
    "succeeded": "published",
    "failed": "failed",
}


class ProgressBoard:
    """Redraws the board in place on a terminal; elsewhere (a pipe, a log) prints only the lines that changed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.redraw = out.isatty()
        self.drawn: list[str] = []

    def show(self, states: dict[str, dict[str, Any] | None]) -> None:
        """Draw one board: each company's platforms and its marts, from the API's backfill state."""
        lines = [line for company, state in states.items() for line in company_lines(company, state)]
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


def company_lines(company: str, state: dict[str, Any] | None) -> list[str]:
    """A bar per platform of the company's latest backfill, then its marts step."""
    if state is None:
        return [f"{company:<9} waiting for the backfill request"]
    if not state["progress"]:
        return [f"{company:<9} backfill {state['status']}: waiting for the Dagster sensor to launch it"]
    lines = []
    steps = state["progress"]
    for platform, entry in sorted((step, entry) for step, entry in steps.items() if step != MARTS_STEP):
        done, total = entry["partitions_done"], entry["partitions_total"]
        status = STEP_STATES.get(entry["status"], entry["status"])
        lines.append(f"{company:<9} {platform:<11} {bar(done, total)} {done:>3}/{total:<3} partitions  {status}")
    marts = steps.get(MARTS_STEP, {"status": "waiting"})["status"]
    lines.append(f"{company:<9} {MARTS_STEP:<11} {MARTS_STATES.get(marts, marts)}")
    return lines


def bar(done: int, total: int) -> str:
    """``[#########.........]`` for ``done`` of ``total``."""
    filled = BAR_WIDTH * done // total if total else 0
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"
