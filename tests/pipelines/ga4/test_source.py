"""Loading GA4 traffic through dlt into DuckDB, against the emulator over loopback HTTP."""

from __future__ import annotations

import hashlib
import math
import traceback
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import uuid4

import dlt
import httpx
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import ga4
from pipelines.emulator import synthetic
from pipelines.emulator.ga4 import INVALID_CREDENTIALS, Traffic, property_account, traffic_on
from pipelines.ga4 import GA4Credentials
from pipelines.ga4.settings import SCOPE
from tally.errors import PlatformAuthError, PlatformResponseError
from tally.settings import Settings
from tests.pipelines.loading import (
    assert_no_secret_in_files,
    assert_no_secret_logged_or_raised,
    platform_error,
    query,
    requests_made,
    run_source,
)

CredentialKind = Literal["service_account", "oauth"]
MakeCredentials = Callable[..., GA4Credentials]
REFUSED = "Google refused the credentials"
END = date.today() - timedelta(days=2)
TRAFFIC = (
    "select date, session_campaign_name, session_source_medium, sessions, key_events, total_revenue "
    "from raw_ga4.traffic_daily"
)


def new_property(prefix: str = "8") -> str:
    """A property id of its own per test; one starting with 49 is a euro property in Berlin."""
    return f"{prefix}{uuid4().int % 10**9:09d}"


def load(settings: Settings, credentials: GA4Credentials, start: date, end: date = END) -> dlt.Pipeline:
    return run_source("ga4", ga4.source, settings, credentials, credentials.property_id, start, end)


def served(property_id: str, days: list[date], late: Callable[[date], int] = lambda day: 0) -> list[Traffic]:
    """Every report row the emulator has for those days."""
    return [row for day in days for row in traffic_on(property_id, day, late(day))]


def as_loaded(rows: list[Traffic]) -> set[tuple[Any, ...]]:
    """Report rows as traffic_daily holds them: raw strings, and the day as a date."""
    metrics = ("sessions", "keyEvents", "totalRevenue")
    return {(row.day, row.campaign, row.source_medium, *(row.totals.value(m) for m in metrics)) for row in rows}


@pytest.mark.parametrize(("prefix", "kind"), [("8", "service_account"), ("49", "oauth")])
def test_a_90_day_pull_loads_exactly_the_rows_the_property_served(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials, prefix: str, kind: CredentialKind
) -> None:
    property_id, page_size = new_property(prefix), 7
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json={"page_size": page_size})
    days = synthetic.days(END - timedelta(days=89), END)
    load(settings, ga4_credentials(property_id, kind), days[0])

    rows = served(property_id, days)
    assert set(query(settings, TRAFFIC)) == as_loaded(rows)
    assert query(settings, "select count(*), sum(sessions::int), sum(key_events::double) from raw_ga4.traffic_daily")[
        0
    ] == (len(rows), sum(r.totals.sessions for r in rows), sum(r.totals.key_events for r in rows))
    revenue = query(settings, "select total_revenue from raw_ga4.traffic_daily")
    assert sum(Decimal(value) for (value,) in revenue) == sum(r.totals.revenue for r in rows)
    account = property_account(property_id)
    loaded = query(
        settings,
        "select distinct company_id, account_id, currency, account_timezone, strftime(date, '%Y%m%d') = date_yyyymmdd "
        "from raw_ga4.traffic_daily",
    )
    assert loaded == [(f"co-{property_id}", property_id, account.currency, account.timezone, True)]
    assert requests_made(emulator, "ga4", property_id) == 1 + math.ceil(len(rows) / page_size)


@pytest.mark.parametrize("fault", [{"rate_limit": 2, "retry_after_seconds": 1}, {"server_error": 2}])
def test_retries_survive_throttling_and_server_errors(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials, fault: dict[str, int]
) -> None:
    property_id, page_size = new_property(), 50
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json={**fault, "page_size": page_size})
    days = synthetic.days(END - timedelta(days=29), END)
    load(settings, ga4_credentials(property_id), days[0])

    rows = served(property_id, days)
    assert set(query(settings, TRAFFIC)) == as_loaded(rows)
    assert requests_made(emulator, "ga4", property_id) == 1 + math.ceil(len(rows) / page_size) + 2


@pytest.mark.parametrize(
    ("kind", "secret", "fault", "reason"),
    [
        ("oauth", "expired-rt", {}, f"{REFUSED} (invalid_grant: Token has been expired or revoked.)"),
        ("service_account", "expired-key", {}, f"{REFUSED} (invalid_grant: Invalid JWT Signature.)"),
        ("oauth", "good-rt", {"revoke_after": 2, "page_size": 5}, f"{INVALID_CREDENTIALS} (UNAUTHENTICATED)"),
    ],
)
def test_a_refused_token_fails_the_load_naming_ga4_and_the_cause(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials, kind: CredentialKind, secret: str,
    fault: dict[str, int], reason: str,
) -> None:  # fmt: skip
    secret, property_id = f"{secret}-{uuid4().hex}", new_property()
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json=fault)
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, ga4_credentials(property_id, kind, secret), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformAuthError)
    assert error.message == f"Google Analytics 4: {reason}"
    assert secret not in "".join(traceback.format_exception(failed.value))


def test_a_reload_leaves_no_duplicate_and_a_narrower_pull_replaces_only_its_days(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials
) -> None:
    property_id = new_property()
    credentials = ga4_credentials(property_id)
    days = synthetic.days(END - timedelta(days=29), END)
    load(settings, credentials, days[0])
    first = query(settings, TRAFFIC)
    load(settings, credentials, days[0])
    assert sorted(query(settings, TRAFFIC)) == sorted(first) and len(first) == len(set(first))

    # Key events arrive late for recent days; two reports came before this one, so each recent row gains two.
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json={"late_attribution": True})
    recent = days[-3:]
    load(settings, credentials, recent[0])
    expected = served(property_id, days, late=lambda day: 2 if day in recent else 0)
    assert set(query(settings, TRAFFIC)) == as_loaded(expected)
    assert query(settings, "select count(*) from raw_ga4.traffic_daily") == [(len(expected),)]


def test_days_before_the_property_existed_load_nothing_and_fail_nothing(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials
) -> None:
    property_id = new_property()
    pipeline = load(settings, ga4_credentials(property_id), date(2022, 1, 1), date(2022, 1, 31))
    assert pipeline.last_trace.last_normalize_info.row_counts.get("traffic_daily", 0) == 0
    assert requests_made(emulator, "ga4", property_id) == 2


def test_a_cut_off_answer_is_fetched_again_and_fails_the_load_as_unreadable_when_it_stays_cut(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials
) -> None:
    property_id = new_property()
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json={"truncate": 1})
    load(settings, ga4_credentials(property_id), END - timedelta(days=6))  # cut once: fetched again
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json={"truncate": 50})
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, ga4_credentials(property_id), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformResponseError)
    assert error.message == "Google Analytics 4: the API answered with invalid JSON"


@pytest.mark.parametrize("kind", ["service_account", "oauth"])
def test_no_secret_reaches_logs_errors_or_dlt_files(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials, private_key_pem: str,
    caplog: pytest.LogCaptureFixture, dlt_debug_logs: None, kind: CredentialKind,
) -> None:  # fmt: skip
    sentinel = f"SENTINEL{uuid4().hex}"
    credentials = ga4_credentials(new_property(), kind, sentinel)
    assert ga4.test_connection(credentials, settings).success
    load(settings, credentials, END - timedelta(days=13))
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, ga4_credentials(new_property(), kind, f"expired-{sentinel}"), END - timedelta(days=13))

    # The bearer token the emulator hands out for this grant (a hash of it) is as secret as the grant.
    grant = sentinel if kind == "oauth" else f"{sentinel}@tally-test.iam.gserviceaccount.com|{SCOPE}"
    secrets = [sentinel, f"ya29.{hashlib.sha256(grant.encode()).hexdigest()[:24]}", private_key_pem.splitlines()[5]]
    assert any(r.name == "dlt" and "Making POST request" in r.getMessage() for r in caplog.records)
    assert_no_secret_logged_or_raised(caplog.text, failed.value, *secrets)
    assert_no_secret_in_files(settings.data_dir, *secrets)
