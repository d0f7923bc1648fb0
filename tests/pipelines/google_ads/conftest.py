"""Fixtures of the Google Ads tests: a customer of each test's own, its credentials, and dlt's DEBUG logs."""

from __future__ import annotations

import itertools
import logging
import zlib
from collections.abc import Iterator

import pytest

from pipelines.google_ads import GoogleAdsCredentials
from tests.pipelines.google_ads.served import END, START, delivered

BUSY = 150  # campaign-days with delivery in START..END: enough for many pages of 7 rows


@pytest.fixture()
def customer_id(request: pytest.FixtureRequest) -> str:
    """A 10-digit customer id unique to this test (stable across runs), busy enough in START..END.

    It starts with 1: ids starting with 9 are, in the emulator, clients reachable only through a manager.
    """
    base = zlib.crc32(request.node.nodeid.encode())
    candidates = (f"1{(base + n) % 10**9:09d}" for n in itertools.count())
    return next(candidate for candidate in candidates if len(delivered(candidate, START, END)) >= BUSY)


@pytest.fixture()
def credentials(customer_id: str) -> GoogleAdsCredentials:
    """Credentials the emulator accepts for this test's customer."""
    return GoogleAdsCredentials(
        developer_token="dev-token-0001",
        client_id="client.apps.googleusercontent.com",
        client_secret="client-secret-0001",
        refresh_token="refresh-token-0001",
        customer_id=customer_id,
    )


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
