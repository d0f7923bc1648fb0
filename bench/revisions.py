"""Revision log cost of one client's re-pull as clients are added: the capture before the load, the capture
after it and the SQL diff into ``marts.revision_log``, at N clients and at 10.

A load captures only its client's days of one platform (``sql/revisions/day_values.sql``) and compares only
its own captures (``sql/revisions/revisions.sql``), so the cost should depend on that client's rows, not on how
many clients share the warehouse. This builds bench/marts.py's synthetic warehouses (5 platforms x 20
campaigns x 400 days per client), modelled in full, then for one client re-pulls Meta's 28-day window several
times: capture, restate the window's last day (every campaign's spend, as a morning's lookback load does),
capture and diff. The two warehouses alternate and the medians count. It prints the figures, then last

    revisions_per_client_growth=<median at N / median at --baseline clients (10)>

Target: <= 1.5 at ``--clients 200``.

    .venv/bin/python bench/revisions.py [--clients 200] [--baseline 10] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# bench/ is not an installed package: run as a script, this file needs the repo root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.marts import CAMPAIGNS, END, built_warehouse, company_id, restate  # noqa: E402
from tally.settings import Settings  # noqa: E402
from warehouse.revisions import RevisionCapture  # noqa: E402

LOOKBACK_DAYS = 28
TARGET_GROWTH = 1.5


def client_re_pull(settings: Settings, clients: int, attempt: int) -> float:
    """Seconds the revision log adds to one client's Meta re-pull (both captures, the diff, the clean-up)."""
    client = company_id(clients // 2)
    capture = RevisionCapture(settings, client, "meta_ads", END - timedelta(days=LOOKBACK_DAYS - 1), END)
    started = time.perf_counter()
    capture.before()
    before = time.perf_counter() - started
    restate(settings.duckdb_path, client, attempt)
    started = time.perf_counter()
    changes = capture.after()
    capture.discard()
    seconds = before + time.perf_counter() - started
    if changes.revisions != CAMPAIGNS:
        raise SystemExit(f"the re-pull of {client} logged {changes.revisions} revisions, expected {CAMPAIGNS}")
    return seconds


def revisions_per_client_growth(clients: int, baseline: int = 10, repeats: int = 7) -> dict[str, float]:
    """One client's revision capture and diff, median seconds at ``clients`` and at ``baseline`` clients, and
    their ratio; the warehouses' re-pulls alternate so the machine's other work weighs on both alike."""
    counts = (baseline, clients)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tally-bench-revisions-") as directory:
        warehouses = {count: built_warehouse(count, Path(directory), "client", figures) for count in counts}
        seconds: dict[int, list[float]] = {count: [] for count in counts}
        for attempt in range(repeats):
            for count, settings in warehouses.items():
                seconds[count].append(client_re_pull(settings, count, attempt))
    for count, measured in seconds.items():
        figures |= {
            f"revisions_median_s_{count}": round(statistics.median(measured), 4),
            f"revisions_min_s_{count}": round(min(measured), 4),
            f"revisions_max_s_{count}": round(max(measured), 4),
        }
    growth = statistics.median(seconds[clients]) / statistics.median(seconds[counts[0]])
    return figures | {"revisions_per_client_growth": round(growth, 3)}


def main() -> None:
    """Print every figure, then ``revisions_per_client_growth=<y>`` last."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    figures = revisions_per_client_growth(args.clients, args.baseline, args.repeats)
    growth = figures.pop("revisions_per_client_growth")
    for name, value in figures.items():
        print(f"{name}={value}")
    print(f"target_growth<={TARGET_GROWTH} {'met' if growth <= TARGET_GROWTH else 'MISSED'}")
    print(f"revisions_per_client_growth={growth}")


if __name__ == "__main__":
    main()
