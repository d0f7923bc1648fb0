"""Fixtures shared by the platform connector tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture()
def dlt_debug_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every log record at DEBUG, dlt's own included (dlt's logger does not propagate to the root)."""
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "DEBUG")  # should dlt set its logger up again during the test
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
