"""Fixtures of the TikTok Ads tests: an advertiser of each test's own."""

from __future__ import annotations

import pytest

from tests.pipelines.loading import unique_busy_id
from tests.pipelines.tiktok_ads.served import END, START, delivered

BUSY = 200  # campaign-days with delivery in START..END: several pages and every 30-day window used


@pytest.fixture()
def advertiser_id(request: pytest.FixtureRequest) -> str:
    """A digits-only advertiser id unique to this test (stable across runs), busy enough in START..END."""
    return unique_busy_id(
        request.node.nodeid,
        lambda base, n: f"7{base:010d}{n:04d}",
        lambda candidate: len(delivered(candidate, START, END)) >= BUSY,
    )
