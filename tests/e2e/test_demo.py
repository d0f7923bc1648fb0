"""``tally demo --no-ui`` end to end: one company, 30 days, through the real API, sensor, daemon and runs.

The curl commands the demo prints are run as printed, and their answers are checked against the marts in the
warehouse, read directly once the demo has stopped.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.e2e.conftest import processes_of

pytestmark = pytest.mark.slow
# About 75 s on an idle two-core machine; generous, so a machine busy with other work does not fail the test.
READY_TIMEOUT_SECONDS = 360


def run_as_printed(command: str) -> dict[str, Any]:
    """Run a printed curl command in a shell, or, without curl, replay its header and URL with httpx."""
    if shutil.which("curl") and shutil.which("sh"):
        result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60, check=True)
        return json.loads(result.stdout)
    words = shlex.split(command)
    name, _, value = words[words.index("-H") + 1].partition(": ")
    return httpx.get(words[-1], headers={name: value}, timeout=60).raise_for_status().json()


def campaign_days(data_dir: Path, company: str, start: date, end: date) -> list[dict[str, Any]]:
    """The company's campaign days in the period, straight from the warehouse's mart."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as db:
        cursor = db.execute(
            "select platform, campaign_id, date, spend, impressions, clicks from marts.campaign_daily "
            "where company_id = ? and date between ? and ?",
            [company, start, end],
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def money(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


DEMO_ARGS = ("--no-ui", "--companies", "1", "--days", "30", "--api-port", "0", "--emulator-port", "0")


def printed_curl_commands(demo: Any) -> list[str]:
    return [line.strip() for line in demo.lines if line.strip().startswith("curl ")]


@pytest.mark.timeout(600)
def test_demo_answers_the_printed_curl_commands_from_the_warehouse_and_reuses_its_data(start_demo: Any) -> None:
    demo = start_demo(*DEMO_ARGS)
    demo.wait_for("Starting with fresh demo data", timeout_seconds=60)
    demo.wait_for("Press Ctrl-C to stop.", timeout_seconds=READY_TIMEOUT_SECONDS)
    commands = printed_curl_commands(demo)
    assert len(commands) == 3
    results, campaigns, daily = (run_as_printed(command) for command in commands)
    assert demo.interrupt() == 0
    assert processes_of(demo.data_dir / "dagster") == []

    period = results["period"]
    start, end = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
    rows = campaign_days(demo.data_dir, "acme", start, end)
    assert rows, "the backfill loaded no campaign days in the printed period"

    metrics = {metric["metric_key"]: metric for metric in results["metrics"]}
    assert money(metrics["spend"]["value"]) == money(sum(row["spend"] for row in rows))
    assert metrics["impressions"]["value"] == sum(row["impressions"] for row in rows)
    assert metrics["clicks"]["value"] == sum(row["clicks"] for row in rows)
    assert set(results["connected_platforms"]) >= {"meta_ads", "google_ads", "tiktok_ads"}

    spend_by_campaign: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        key = (row["platform"], row["campaign_id"])
        spend_by_campaign[key] = spend_by_campaign.get(key, Decimal(0)) + row["spend"]
    listed = {(c["platform"], c["campaign_id"]): money(c["spend"]) for c in campaigns["campaigns"]}
    assert listed == {key: money(spend) for key, spend in spend_by_campaign.items()}

    meta_days = {(row["campaign_id"], row["date"]): row["spend"] for row in rows if row["platform"] == "meta_ads"}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    assert set(daily["daily"]) == {campaign for campaign, _ in meta_days}
    for campaign, points in daily["daily"].items():
        assert [date.fromisoformat(point["date"]) for point in points] == days
        for point in points:
            expected = meta_days.get((campaign, date.fromisoformat(point["date"])), Decimal(0))
            assert money(point["spend"]) == money(expected)

    again = start_demo(*DEMO_ARGS)
    again.wait_for("Reusing the demo data", timeout_seconds=60)
    again.wait_for("Press Ctrl-C to stop.", timeout_seconds=120)
    assert run_as_printed(printed_curl_commands(again)[0]) == results
    assert again.interrupt() == 0
    assert processes_of(again.data_dir / "dagster") == []
