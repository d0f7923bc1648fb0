"""The Dagster daemon as the demo runs it: Dagster's own ``dagster-daemon`` with backfills checked every 5 s.

Dagster's backfill daemon sleeps 30 s between iterations (a module constant, not an instance setting). A demo
backfill is two iterations (launch its run, then see it finish), so the wait would dominate a one-minute demo.
Production runs the stock ``dagster-daemon``; nothing else differs.

This is the one module of Tally that uses Dagster's private API (``dagster._daemon``): no public setting or hook
changes that interval. ``tests/test_dagster_daemon.py`` pins what it relies on (the constant, that the backfill
loop reads it on each run, and that ``dagster-daemon`` is ``dagster._daemon.cli:main``), so an upgrade that
breaks it fails a test instead of quietly slowing the demo.

    python -m tally.dagster_daemon run -w workspace.yaml
"""

from __future__ import annotations

import sys

DEMO_DAEMON_INTERVAL_SECONDS = 5


def use_demo_interval() -> None:
    """Make this process's backfill daemon check every ``DEMO_DAEMON_INTERVAL_SECONDS``."""
    import dagster._daemon.controller as controller

    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = DEMO_DAEMON_INTERVAL_SECONDS


def main() -> None:
    """Run ``dagster-daemon`` with the shorter backfill interval."""
    from dagster._daemon.cli import main as dagster_daemon

    use_demo_interval()
    sys.argv[0] = "dagster-daemon"
    dagster_daemon()


if __name__ == "__main__":
    main()
