"""HTTP details of the ECB's reference rates: two public XML files, read on dlt's retrying session.

The files need no credentials. 429 and 5xx are retried by dlt's session (honouring ``Retry-After``); a final
failure, or a body that is not the eurofxref XML, becomes a domain error naming the ECB and the cause.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import date

import polars as pl
import requests
from dlt.sources.helpers.requests import Client

from pipelines.fx.settings import DISPLAY_NAME, EUROFXREF_NAMESPACE, RATES_PATH, SOURCE
from tally.errors import PlatformError, PlatformRateLimited, PlatformResponseError, PlatformUnavailable
from tally.settings import Settings

RATE_TYPE = pl.Decimal(18, 6)


def ecb_session(settings: Settings) -> requests.Session:
    """dlt's retrying session with the platforms' timeout and retry settings."""
    return Client(
        raise_for_status=False,
        request_timeout=settings.http_timeout_seconds,
        request_max_attempts=settings.http_max_attempts,
        request_backoff_factor=settings.http_backoff_factor,
        request_max_retry_delay=settings.http_max_retry_delay_seconds,
        respect_retry_after_header=True,
    ).session


def fetch_rates(session: requests.Session, settings: Settings, file: str) -> pl.DataFrame:
    """One eurofxref file as a frame of ``date``, ``currency`` and ``rate`` (units of the currency per euro)."""
    url = f"{settings.ecb_base_url.rstrip('/')}/{RATES_PATH}/{file}"
    try:
        response = session.get(url)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise ecb_error(PlatformUnavailable, f"could not reach the reference rates ({type(exc).__name__})") from None
    if response.status_code == 429:
        raise ecb_error(PlatformRateLimited, "rate limited after retries: HTTP 429")
    if response.status_code >= 500:
        raise ecb_error(PlatformUnavailable, f"server error after retries: HTTP {response.status_code}")
    if not response.ok:
        raise ecb_error(PlatformError, f"{file}: HTTP {response.status_code}")
    return parse_eurofxref(response.content, file)


def parse_eurofxref(body: bytes, file: str) -> pl.DataFrame:
    """The rates of an eurofxref document, gathered column by column and typed by polars."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise ecb_error(PlatformResponseError, f"{file} is not whole XML") from None
    cube = f"{{{EUROFXREF_NAMESPACE}}}Cube"
    days: list[str] = []
    currencies: list[str] = []
    rates: list[str] = []
    for day in root.iter(cube):
        time = day.get("time")
        if time is None:
            continue
        for quote in day.iter(cube):
            if quote.get("currency") and quote.get("rate"):
                days.append(time)
                currencies.append(quote.get("currency", ""))
                rates.append(quote.get("rate", ""))
    if not days:
        raise ecb_error(PlatformResponseError, f"{file} holds no reference rates")
    return pl.DataFrame({"date": days, "currency": currencies, "rate": rates}).select(
        pl.col("date").str.to_date("%Y-%m-%d"),
        pl.col("currency"),
        pl.col("rate").str.to_decimal(scale=6).cast(RATE_TYPE),
    )


def ecb_error(kind: type[PlatformError], reason: str) -> PlatformError:
    """A domain error of the ECB source."""
    return kind(SOURCE, DISPLAY_NAME, reason)


def previous_weekday(day: date) -> date:
    """The weekday before ``day``: the publication day before it, unless a holiday fell between."""
    step = 3 if day.weekday() == 0 else 2 if day.weekday() == 6 else 1
    return date.fromordinal(day.toordinal() - step)
