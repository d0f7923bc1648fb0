"""Fixtures of the TikTok Ads tests: an advertiser of each test's own, and dlt's DEBUG logs captured."""

from __future__ import annotations

import itertools
import logging
import zlib
from collections.abc import Iterator

import pytest

from tests.pipelines.tiktok_ads.served import END, START, delivered

BUSY = 200  # campaign-days with delivery in START..END: several pages and every 30-day window used


@pytest.fixture()
def advertiser_id(request: pytest.FixtureRequest) -> str:
    """A digits-only advertiser id unique to this test (stable across runs), busy enough in START..END."""
    base = zlib.crc32(request.node.nodeid.encode())
    candidates = (f"7{base:010d}{n:04d}" for n in itertools.count())
    return next(candidate for candidate in candidates if len(delivered(candidate, START, END)) >= BUSY)


@pytest.fixture()
def dlt_debug_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every log record at DEBUG, dlt's own included (dlt's logger does not propagate to the root)."""
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    dlt_logger = logging.getLogger("dlt")
    level = dlt_logger.level
    dlt_logger.setLevel(logging.DEBUG)
    dlt_logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        dlt_logger.removeHandler(caplog.handler)
        dlt_logger.setLevel(level)
