"""Helpers shared by the platform connector tests: loading a source into DuckDB and reading it back, the emulator's
request counter, the platform error behind a failed step, and the checks that no secret reaches dlt's files."""

from __future__ import annotations

import itertools
import math
import traceback
import zlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb
import httpx

from pipelines.emulator import synthetic
from pipelines.loading import platform_pipeline
from tally.errors import PlatformError
from tally.settings import Settings


def run_source(
    platform: str, source: Callable[..., Any], settings: Settings, credentials: Any, account_id: str, start: date,
    end: date,
) -> dlt.Pipeline:  # fmt: skip
    """Load ``source(credentials, ...)`` for company ``co-<account_id>`` into the settings' DuckDB."""
    company_id = f"co-{account_id}"
    pipeline = platform_pipeline(platform, company_id, settings)
    pipeline.run(source(credentials, start_date=start, end_date=end, company_id=company_id, settings=settings))
    return pipeline


def query(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query against the settings' DuckDB, opened read-only and closed again."""
    connection = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def requests_made(emulator: httpx.Client, platform: str, account_id: str) -> int:
    """Requests the emulator has answered for one account of a platform."""
    return emulator.get(f"/_emulator/requests/{platform}/{account_id}").json()["requests"]


def platform_error(exc: BaseException | None) -> PlatformError | None:
    """The PlatformError behind a failure, following dlt's wrapped ``exception`` and the cause/context chain."""
    while exc is not None and not isinstance(exc, PlatformError):
        exc = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
    return exc


def pages(rows: int, page_size: int) -> int:
    """Requests one paginated list takes: an empty one still takes one."""
    return max(1, math.ceil(rows / page_size))


def unique_busy_id(nodeid: str, candidate: Callable[[int, int], str], busy: Callable[[str], bool]) -> str:
    """The first id ``candidate(crc32(nodeid), n)`` for n = 0, 1, ... that is ``busy``: unique to the test and
    stable across runs."""
    base = zlib.crc32(nodeid.encode())
    return next(account for account in (candidate(base, n) for n in itertools.count()) if busy(account))


def assert_no_secret_logged_or_raised(log_text: str, failure: BaseException, *secrets: str) -> None:
    """No secret in the captured logs nor in the failure's whole traceback."""
    errors = "".join(traceback.format_exception(failure))
    for secret in secrets:
        assert secret not in log_text
        assert secret not in errors


def assert_no_secret_in_files(data_dir: Path, *secrets: str) -> None:
    """dlt wrote its DuckDB and its own files under data_dir, and none of them holds any secret."""
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert any(path.suffix == ".duckdb" for path in files) and any("dlt" in path.parts for path in files)
    assert not [path for path in files for secret in secrets if secret.encode() in path.read_bytes()]


Delivery = tuple[synthetic.Campaign, date, synthetic.DayMetrics]


def campaign_days(
    platform: str, account_id: str, first: date, last: date, delivering: Callable[[synthetic.DayMetrics], object]
) -> list[Delivery]:
    """The synthetic campaign-days in first..last whose metrics are ``delivering``: the rows a daily report lists."""
    return [
        (campaign, day, metrics)
        for day in synthetic.days(first, last)
        for campaign in synthetic.campaigns(platform, account_id)
        if (metrics := synthetic.campaign_day(platform, account_id, campaign, day)) and delivering(metrics)
    ]


def delivery_totals(rows: list[Delivery]) -> tuple[int, Decimal, int, Decimal, int]:
    """Rows, spend, conversions, conversion value and distinct campaign-days of the served rows."""
    return (
        len(rows),
        sum((metrics.spend for _, _, metrics in rows), Decimal(0)),
        sum(metrics.conversions for _, _, metrics in rows),
        sum((metrics.conversion_value for _, _, metrics in rows), Decimal(0)),
        len(rows),
    )
