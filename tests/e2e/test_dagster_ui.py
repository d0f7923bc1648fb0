"""The Dagster UI of a running demo, in a real headless browser: the platform assets are on the asset page, and
each platform's reconciliation check is on its raw asset's Checks tab.

Debian's chromium is driven by Playwright through its own executable (no browser download). ``make test``
installs chromium when it can; without any browser this test is skipped, saying why.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.e2e.conftest import processes_of

pytestmark = pytest.mark.slow
# Asset keys of every platform; the catalog links each row to the asset's page (its label may be truncated).
PLATFORM_ASSETS = [
    "raw/meta_ads/campaign_daily",
    "raw/google_ads/campaign_daily",
    "raw/tiktok_ads/campaign_daily",
    "raw/shopify/daily_sales",
    "raw/ga4/traffic_daily",
]


def system_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("no chromium on this machine and it could not be installed (make test runs apt-get install chromium)")


RECONCILIATION_CHECK = "matches_platform_totals"


def test_the_dagster_ui_of_a_running_demo_lists_every_platform_asset_and_its_checks(start_demo: Any) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras: make test")
    browser_path = system_chromium()
    demo = start_demo(
        "--companies", "1", "--days", "30", "--api-port", "0", "--emulator-port", "0", "--dagster-port", "0"
    )
    ui_url = demo.wait_for("Dagster:", timeout_seconds=180).split()[1]

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{ui_url}/assets", wait_until="domcontentloaded")
            for asset in PLATFORM_ASSETS:
                page.locator(f'a[href$="/assets/{asset}"]').first.wait_for(state="visible", timeout=90_000)
            for asset in PLATFORM_ASSETS:
                page.goto(f"{ui_url}/assets/{asset}?view=checks", wait_until="domcontentloaded")
                check = page.get_by_text(RECONCILIATION_CHECK).first
                check.wait_for(state="visible", timeout=90_000)
        finally:
            browser.close()

    assert demo.interrupt() == 0
    assert processes_of(demo.data_dir / "dagster") == []
