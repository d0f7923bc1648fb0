"""Google Analytics 4 as Tally calls it: the Admin API's ``GET /v1beta/properties/{id}`` and the Data API's
``POST /v1beta/properties/{id}:runReport`` (both hosts are this one emulator).

Quirks kept from the real APIs:

- a Google bearer token in ``Authorization``; errors in Google's envelope ``{"error": {"code", "message",
  "status"}}``: 401 ``UNAUTHENTICATED`` for a missing, expired or revoked token, 403 ``PERMISSION_DENIED`` for a
  property the caller may not read (here: a property id starting with ``403``), 429 ``RESOURCE_EXHAUSTED`` with
  ``Retry-After``, 500 ``INTERNAL``, 400 ``INVALID_ARGUMENT`` for a request GA4 would refuse;
- ``runReport`` takes ``dateRanges`` (ISO dates, ``today``, ``yesterday``, ``NdaysAgo``), any of the dimensions
  ``date``, ``sessionCampaignName``, ``sessionSourceMedium`` and metrics ``sessions``, ``keyEvents``,
  ``totalRevenue`` (rows are summed over the dimensions left out), and ``limit``/``offset`` as int64 strings or
  numbers (``limit`` 10,000 by default, at most 250,000 a page);
- every value is a string, ``date`` is ``YYYYMMDD`` in the property's time zone, ``metricHeaders`` carry types,
  ``metadata`` the currency and time zone; rows whose metrics are all zero are dropped, and with no rows at all
  ``rows`` and ``rowCount`` are absent;
- with ``returnPropertyQuota: true`` the answer carries ``propertyQuota`` (tokens per day and per hour, consumed
  and remaining, of a standard property's 200,000 and 40,000), as used as the ``budget_used_pct`` fault says.

A property id starting with ``49`` is a euro property in Berlin (the ids are digits, so the ``eur`` rule of
``synthetic.account`` cannot name one). Traffic is a pure function of the property id and the day: a handful of
channels per property (direct, organic, referral, ``(not set)`` and a few UTM campaigns), each with a day's
sessions, key events and revenue, from the day the property was created (in 2023 or early 2024; a report of
earlier days has no rows).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from pipelines.emulator import synthetic
from pipelines.emulator.faults import EmulatorState

PLATFORM = "ga4"
DEFAULT_LIMIT, MAX_LIMIT = 10_000, 250_000
DENIED_PREFIX = "403"
EURO_PREFIX = "49"  # GA4 property ids are digits, so synthetic's "eur" rule cannot apply: Germany's calling code
FIRST_CREATED = date(2023, 1, 1)
DIMENSIONS = ("date", "sessionCampaignName", "sessionSourceMedium")
METRIC_TYPES = {"sessions": "TYPE_INTEGER", "keyEvents": "TYPE_FLOAT", "totalRevenue": "TYPE_CURRENCY"}
RELATIVE_DAY = re.compile(r"^([0-9]+)daysAgo$")
GA4_DOCS = "https://developers.google.com/analytics/devguides/reporting/data/v1"
SCHEMA_HELP = f"For a list of valid dimensions and metrics, see {GA4_DOCS}/api-schema"
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid "
    "authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'}
MISSING_CREDENTIALS = INVALID_CREDENTIALS.replace("had invalid", "is missing required")
PERMISSION_DENIED = (
    "User does not have sufficient permissions for this property. To learn more about Property ID, see "
    f"{GA4_DOCS}/property-id."
)
QUOTA_EXHAUSTED = (
    "Exhausted property tokens per hour for this property. Please wait for the property tokens to be replenished. "
    f"Learn more: {GA4_DOCS}/quotas"
)
REFERRERS = ["news.ycombinator.com", "reddit.com", "blog.example.org", "partner-shop.example"]
UTM_CAMPAIGNS = ["spring_sale", "brand_search", "retargeting_q3", "newsletter_weekly", "black_friday", "launch"]
PAID_SOURCES = [
    "google / cpc",
    "facebook / paid_social",
    "instagram / paid_social",
    "tiktok / paid_social",
    "newsletter / email",
    "bing / cpc",
]
LATE_REVENUE = Decimal("45.00")  # what each late-attributed key event adds to the revenue

router = APIRouter(prefix="/v1beta/properties", tags=["ga4"])


class InvalidArgument(Exception):
    """A request GA4 would refuse with 400 INVALID_ARGUMENT; the message is Google's kind of wording."""


def google_error(code: int, status: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Google's error envelope."""
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code, headers=headers)


class GA4Errors:
    """GA4's failures, in Google's envelope and status codes."""

    def missing_token(self) -> Response:
        return google_error(401, "UNAUTHENTICATED", MISSING_CREDENTIALS)

    def expired_token(self) -> Response:
        return google_error(401, "UNAUTHENTICATED", INVALID_CREDENTIALS, INVALID_TOKEN_CHALLENGE)

    def revoked_token(self) -> Response:
        return google_error(401, "UNAUTHENTICATED", INVALID_CREDENTIALS, INVALID_TOKEN_CHALLENGE)

    def rate_limited(self, retry_after_seconds: int) -> Response:
        return google_error(429, "RESOURCE_EXHAUSTED", QUOTA_EXHAUSTED, {"Retry-After": str(retry_after_seconds)})

    def server_error(self) -> Response:
        return google_error(500, "INTERNAL", "Internal error encountered.")


def bearer_token(request: Request) -> str | None:
    """The bearer token of the ``Authorization`` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def admitted(request: Request, property_id: str) -> Response | None:
    """The error this request gets before any data (token, faults, then the property's sharing), or None."""
    state: EmulatorState = request.app.state.emulator
    refused = await state.gate(PLATFORM, property_id, bearer_token(request), GA4Errors())
    if refused is None and property_id.startswith(DENIED_PREFIX):
        return google_error(403, "PERMISSION_DENIED", PERMISSION_DENIED)
    return refused


def property_account(property_id: str) -> synthetic.Account:
    """The property's name, currency and time zone."""
    account = synthetic.account(PLATFORM, property_id)
    if property_id.startswith(EURO_PREFIX):
        return replace(account, currency="EUR", timezone="Europe/Berlin")
    return account


@router.get("/{property_id}")
async def get_property(request: Request, property_id: str) -> Response:
    """The Admin API's property: its name, currency and time zone."""
    refused = await admitted(request, property_id)
    if refused is not None:
        return refused
    account = property_account(property_id)
    parent = f"accounts/{synthetic.rng(PLATFORM, property_id, 'parent').randint(1000, 99_999_999)}"
    payload = {
        "name": f"properties/{property_id}",
        "parent": parent,
        "createTime": f"{created_on(property_id)}T09:26:53.589Z",
        "updateTime": f"{created_on(property_id) + timedelta(days=30)}T16:02:11.204Z",
        "displayName": account.name,
        "propertyType": "PROPERTY_TYPE_ORDINARY",
        "industryCategory": "SHOPPING",
        "timeZone": account.timezone,
        "currencyCode": account.currency,
        "serviceLevel": "GOOGLE_ANALYTICS_STANDARD",
        "account": parent,
    }
    state: EmulatorState = request.app.state.emulator
    return state.answer(PLATFORM, property_id, payload)


def created_on(property_id: str) -> date:
    """The day the property was created: it has no traffic before it."""
    return FIRST_CREATED + timedelta(days=synthetic.rng(PLATFORM, property_id, "created").randint(0, 400))


@dataclass(frozen=True)
class Channel:
    """A stream of sessions: one session campaign from one source/medium, at its own typical daily volume."""

    campaign: str
    source_medium: str
    volume: float
    key_event_rate: float


@dataclass(frozen=True)
class Totals:
    """Metrics of one report row; rows summed over the dimensions a request leaves out add up."""

    sessions: int = 0
    key_events: int = 0
    revenue: Decimal = Decimal(0)

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.sessions + other.sessions, self.key_events + other.key_events, self.revenue + other.revenue)

    def value(self, metric: str) -> str:
        """A metric as GA4 writes it: a string, revenue without trailing zeros (``"456.7"``, ``"0"``)."""
        if metric == "sessions":
            return str(self.sessions)
        if metric == "keyEvents":
            return str(self.key_events)
        return f"{self.revenue.normalize():f}"


@dataclass(frozen=True)
class Traffic:
    """One channel's traffic on one property-local day."""

    day: date
    campaign: str
    source_medium: str
    totals: Totals

    def dimension(self, name: str) -> str:
        """The value of a GA4 dimension, as GA4 writes it."""
        values = {
            "date": f"{self.day:%Y%m%d}",
            "sessionCampaignName": self.campaign,
            "sessionSourceMedium": self.source_medium,
        }
        return values[name]


@lru_cache(maxsize=256)
def channels(property_id: str) -> tuple[Channel, ...]:
    """The property's channels: direct, organic, referral, unattributed, and two to five UTM campaigns."""
    r = synthetic.rng(PLATFORM, property_id, "channels")
    found = [
        Channel("(direct)", "(direct) / (none)", r.uniform(50, 3000), r.uniform(0.01, 0.04)),
        Channel("(organic)", "google / organic", r.uniform(50, 5000), r.uniform(0.01, 0.04)),
        Channel("(referral)", f"{r.choice(REFERRERS)} / referral", r.uniform(1, 300), r.uniform(0.0, 0.03)),
        Channel("(not set)", "(not set)", r.uniform(0, 20), r.uniform(0.0, 0.02)),
    ]
    for campaign in r.sample(UTM_CAMPAIGNS, r.randint(2, 5)):
        for source_medium in r.sample(PAID_SOURCES, r.randint(1, 2)):
            found.append(Channel(campaign, source_medium, r.uniform(2, 2000), r.uniform(0.005, 0.06)))
    return tuple(found)


@lru_cache(maxsize=8192)
def active_traffic(property_id: str, day: date) -> tuple[Traffic, ...]:
    """The day's channels with any activity: GA4 drops the rows whose metrics are all zero."""
    if day < created_on(property_id):
        return ()
    found = []
    for channel in channels(property_id):
        r = synthetic.rng(PLATFORM, property_id, channel.campaign, channel.source_medium, day.isoformat())
        sessions = 0 if r.random() < 0.08 else int(channel.volume * r.uniform(0.5, 1.5))
        key_events = int(sessions * channel.key_event_rate * r.uniform(0.5, 1.5))
        revenue = Decimal(str(key_events * r.uniform(20, 180))).quantize(synthetic.CENT)
        if sessions or key_events or revenue:
            found.append(Traffic(day, channel.campaign, channel.source_medium, Totals(sessions, key_events, revenue)))
    return tuple(found)


def traffic_on(property_id: str, day: date, late: int = 0) -> list[Traffic]:
    """The day's report rows, each with ``late`` key events (and their revenue) attributed since."""
    extra = Totals(0, late, late * LATE_REVENUE)
    return [replace(row, totals=row.totals + extra) for row in active_traffic(property_id, day)]


@dataclass(frozen=True)
class ReportRequest:
    """What a runReport body asks for, checked as GA4 checks it."""

    first: date
    last: date
    dimensions: list[str]
    metrics: list[str]
    limit: int
    offset: int


def report_day(value: Any, today: date) -> date:
    """A date of a date range: ``YYYY-MM-DD``, ``today``, ``yesterday`` or ``NdaysAgo``."""
    text = str(value or "")
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    if relative := RELATIVE_DAY.match(text):
        return today - timedelta(days=int(relative.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"Invalid date range date: '{text}'. Use YYYY-MM-DD, today, yesterday or NdaysAgo."
        ) from None


def int64(body: dict[str, Any], name: str, default: int) -> int:
    """An int64 field, sent as a JSON string or number, refused when negative."""
    try:
        value = int(body.get(name, default))
    except (TypeError, ValueError):
        raise InvalidArgument(f"Invalid value at '{name}' (TYPE_INT64)") from None
    if value < 0:
        raise InvalidArgument(f"{name} must be non-negative")
    return value


def names(body: dict[str, Any], field: str, known: Collection[str], kind: str) -> list[str]:
    """The names of a ``dimensions`` or ``metrics`` list, refusing one GA4's schema lacks."""
    listed = [entry.get("name") if isinstance(entry, dict) else None for entry in body.get(field) or []]
    for name in listed:
        if name not in known:
            raise InvalidArgument(f"Field {name} is not a valid {kind}. {SCHEMA_HELP}")
    return listed


def parse_report(body: Any, today: date) -> ReportRequest:
    """The report a runReport body asks for, or INVALID_ARGUMENT in GA4's words."""
    if not isinstance(body, dict):
        raise InvalidArgument("Invalid JSON payload received.")
    ranges = body.get("dateRanges") or []
    if len(ranges) != 1 or not isinstance(ranges[0], dict):
        raise InvalidArgument("dateRanges: exactly one date range is emulated.")
    first, last = (report_day(ranges[0].get(key), today) for key in ("startDate", "endDate"))
    if last < first:
        raise InvalidArgument("The endDate must not be before the startDate.")
    metrics = names(body, "metrics", METRIC_TYPES, "metric")
    if not metrics:
        raise InvalidArgument("At least one metric is required.")
    limit = min(int64(body, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
    dimensions = names(body, "dimensions", DIMENSIONS, "dimension")
    return ReportRequest(first, last, dimensions, metrics, limit=limit, offset=int64(body, "offset", 0))


def report_rows(traffic: list[Traffic], dimensions: list[str], metrics: list[str]) -> list[dict[str, Any]]:
    """Rows of the dimensions asked for, summed over the others, with the metrics asked for as strings."""
    grouped: dict[tuple[str, ...], Totals] = {}
    for row in traffic:
        key = tuple(row.dimension(name) for name in dimensions)
        grouped[key] = grouped.get(key, Totals()) + row.totals
    return [
        {
            "dimensionValues": [{"value": value} for value in key],
            "metricValues": [{"value": totals.value(metric)} for metric in metrics],
        }
        for key, totals in grouped.items()
    ]


def property_level(state: EmulatorState, property_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row of a report without campaigns: the property's own totals, which add up to the campaign rows unless a
    test told the property level to disagree (each value moved by ``account_level_gap_pct``)."""
    if not state.plan(PLATFORM, property_id).account_level_gap_pct:
        return row
    values = [
        {"value": f"{state.account_level(PLATFORM, property_id, Decimal(cell['value'])).normalize():f}"}
        for cell in row["metricValues"]
    ]
    return {**row, "metricValues": values}


DAILY_TOKENS, HOURLY_TOKENS = 200_000, 40_000
# What a property has spent of its quotas when no test said otherwise.
USUAL_USED_PCT = 0.5


def property_quota(state: EmulatorState, property_id: str) -> dict[str, Any]:
    """The ``propertyQuota`` of a report: the daily and hourly tokens at the share used the fault plan names."""
    used_pct = state.plan(PLATFORM, property_id).budget_used_pct
    share = (USUAL_USED_PCT if used_pct is None else used_pct) / 100

    def quota(total: int) -> dict[str, int]:
        consumed = round(total * share)
        return {"consumed": consumed, "remaining": total - consumed}

    return {
        "tokensPerDay": quota(DAILY_TOKENS),
        "tokensPerHour": quota(HOURLY_TOKENS),
        "concurrentRequests": {"consumed": 0, "remaining": 10},
    }


def report_page(state: EmulatorState, property_id: str, body: Any) -> dict[str, Any]:
    """One page of the report a body asks for, with late key events when that fault is on."""
    report = parse_report(body, state.current_date())
    calls_before = state.count_metrics_call(PLATFORM, property_id)
    traffic = [
        row
        for day in synthetic.days(report.first, report.last)
        for row in traffic_on(property_id, day, state.late_conversions(PLATFORM, property_id, day, calls_before))
    ]
    rows = report_rows(traffic, report.dimensions, report.metrics) if state.delivers(PLATFORM, property_id) else []
    if "sessionCampaignName" not in report.dimensions:
        rows = [property_level(state, property_id, row) for row in rows]
    size = state.page_size(PLATFORM, property_id, report.limit)
    page = rows[report.offset : report.offset + min(size, report.limit)]
    account = property_account(property_id)
    return {
        "dimensionHeaders": [{"name": name} for name in report.dimensions],
        "metricHeaders": [{"name": name, "type": METRIC_TYPES[name]} for name in report.metrics],
        **({"rows": page} if page else {}),
        **({"rowCount": len(rows)} if rows else {}),
        "metadata": {"currencyCode": account.currency, "timeZone": account.timezone},
        **({"propertyQuota": property_quota(state, property_id)} if body.get("returnPropertyQuota") else {}),
        "kind": "analyticsData#runReport",
    }


@router.post("/{property_id}:runReport")
async def run_report(request: Request, property_id: str) -> Response:
    """The Data API's report: rows of the dimensions and metrics asked for, ``limit`` rows from ``offset``."""
    refused = await admitted(request, property_id)
    if refused is not None:
        return refused
    state: EmulatorState = request.app.state.emulator
    try:
        payload = report_page(state, property_id, await request_json(request))
    except InvalidArgument as exc:
        return google_error(400, "INVALID_ARGUMENT", str(exc))
    return state.answer(PLATFORM, property_id, payload)


async def request_json(request: Request) -> Any:
    """The request's JSON body, or None when it is not JSON."""
    try:
        return await request.json()
    except ValueError:
        return None
