"""Fixtures of the Meta Ads tests: an ad account of each test's own, and dlt's DEBUG logs captured."""

from __future__ import annotations

import itertools
import logging
import zlib
from collections.abc import Iterator

import pytest

from tests.pipelines.meta_ads.served import END, START, delivered

# Campaign-days with delivery in START..END: enough for many small pages, few enough to keep the tests quick.
BUSY = range(150, 700)


@pytest.fixture()
def ad_account_id(request: pytest.FixtureRequest) -> str:
    """A digits-only ad account id unique to this test (stable across runs), with a moderate amount of data."""
    base = zlib.crc32(request.node.nodeid.encode())
    candidates = (f"{base:010d}{n:03d}" for n in itertools.count())
    return next(candidate for candidate in candidates if len(delivered(candidate, START, END)) in BUSY)


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
