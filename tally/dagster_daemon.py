"""The Dagster daemon as the demo runs it: Dagster's own ``dagster-daemon`` with backfills checked every 5 s.

Dagster's backfill daemon sleeps 30 s between iterations (a module constant, not an instance setting). A demo
backfill is two iterations (launch its run, then see it finish), so the wait would dominate a one-minute demo.
Production runs the stock ``dagster-daemon``; nothing else differs.

    python -m tally.dagster_daemon run -w workspace.yaml
"""

from __future__ import annotations

import sys

DEMO_DAEMON_INTERVAL_SECONDS = 5


def main() -> None:
    """Run ``dagster-daemon`` with the shorter backfill interval."""
    import dagster._daemon.controller as controller
    from dagster._daemon.cli import main as dagster_daemon

    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = DEMO_DAEMON_INTERVAL_SECONDS
    sys.argv[0] = "dagster-daemon"
    dagster_daemon()


if __name__ == "__main__":
    main()
