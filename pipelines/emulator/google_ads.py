"""The Google Ads API (REST) as Tally calls it: ``POST /{version}/customers/{customer_id}/googleAds:search`` with a
GAQL query in the JSON body (access tokens come from the emulated ``/token``, see ``google_oauth.py``).

Quirks kept from the real API:

- headers ``Authorization: Bearer``, ``developer-token`` (without it: 400 ``INVALID_ARGUMENT``, requestError
  ``DEVELOPER_TOKEN_PARAMETER_MISSING``) and ``login-customer-id``, digits only (else 400 headerError
  ``INVALID_LOGIN_CUSTOMER_ID``). A customer id starting with ``9`` is a client account the user reaches only
  through a manager: without ``login-customer-id`` it answers 403 authorizationError ``USER_PERMISSION_DENIED``.
  A customer id with dashes (``123-456-7890``) is refused with requestError ``INVALID_CUSTOMER_ID``.
- errors in Google's envelope ``{"error": {"code", "message", "status", "details": [GoogleAdsFailure]}}``: 401
  authenticationError ``OAUTH_TOKEN_EXPIRED`` / ``OAUTH_TOKEN_REVOKED`` for an access token starting with
  ``expired`` / ``revoked`` (a missing one gets the bare 401 envelope), 429 ``RESOURCE_EXHAUSTED`` with quotaError
  ``RESOURCE_TEMPORARILY_EXHAUSTED``, ``retryDelay`` and ``Retry-After``, 500 ``INTERNAL``.
- GAQL read loosely: ``SELECT <fields> FROM campaign|customer [WHERE ...] [LIMIT n]``; unknown fields are refused
  (``UNRECOGNIZED_FIELD``); selecting ``segments.date`` needs ``segments.date BETWEEN 'a' AND 'b'`` in ``WHERE``
  (other predicates are ignored), and metrics are served segmented by ``segments.date`` only.
- fixed pages of 10,000 rows (or the fault plan's ``page_size``) with ``nextPageToken`` only while more remain;
  the token is sent back as ``pageToken`` with the identical query (else ``INVALID_PAGE_TOKEN``); ``pageSize``
  is refused with ``PAGE_SIZE_NOT_SUPPORTED``. An empty result has no ``results`` key.
- proto3 JSON: camelCase keys, int64 as strings, doubles as numbers, zero and unset values left out, the
  ``resourceName`` of every resource selected, ``fieldMask`` and ``requestId`` beside the results. Rows whose
  selected metrics are all zero are left out of a segmented report, so days without delivery have no row.
- money in micros; a campaign's budget is daily (``amountMicros``, period ``DAILY``) or total
  (``totalAmountMicros``, ``CUSTOM_PERIOD``). Late conversions are credited to days that had clicks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from pipelines.emulator import synthetic
from pipelines.emulator.faults import EmulatorState, Restatement

PLATFORM = "google_ads"
PAGE_ROWS = 10_000
MANAGED_PREFIX = "9"
MICROS = 1_000_000
LATE_VALUE = Decimal("50.00")  # what each late-credited conversion adds to the conversion value
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid "
    "authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
MISSING_CREDENTIALS = INVALID_CREDENTIALS.replace("had invalid", "is missing required")
RATE_NAME = "Requests per service per method"
QUOTA_EXHAUSTED = "Resource has been exhausted (e.g. check quota)."
PAGE_SIZE_NOT_SUPPORTED = (
    "Setting the page size is not supported. Search Responses will have fixed page size of '10000' rows."
)
NEEDS_MANAGER = (
    "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's "
    "customer id must be set in the 'login-customer-id' header. See "
    "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid"
)
QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>\w+)(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+.+?)?(?:\s+LIMIT\s+(?P<limit>[0-9]+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
BETWEEN = re.compile(r"segments\.date\s+BETWEEN\s+'([0-9-]{10})'\s+AND\s+'([0-9-]{10})'", re.IGNORECASE)
CUSTOMER_FIELDS = {f"customer.{name}" for name in ("resource_name", "id", "descriptive_name", "currency_code",
                                                   "time_zone")}  # fmt: skip
METRIC_FIELDS = {f"metrics.{name}" for name in ("cost_micros", "impressions", "clicks", "conversions",
                                                "conversions_value")}  # fmt: skip
CAMPAIGN_FIELDS = {
    *(f"campaign.{name}" for name in ("resource_name", "id", "name", "status", "advertising_channel_type")),
    *(f"campaign_budget.{name}" for name in ("resource_name", "amount_micros", "total_amount_micros", "period")),
    "segments.date",
    *METRIC_FIELDS,
}
# FROM customer with metrics is the account's own totals over the range (or per day with segments.date).
INT64_METRICS = {"metrics.cost_micros", "metrics.impressions", "metrics.clicks"}
FIELDS = {"customer": {*CUSTOMER_FIELDS, *METRIC_FIELDS, "segments.date"}, "campaign": CAMPAIGN_FIELDS}

router = APIRouter(tags=["google_ads"])


class AdsError(Exception):
    """A refusal in Google Ads' words: HTTP status, RPC status, one GoogleAdsFailure error code and message."""

    def __init__(self, http_status: int, status: str, kind: str, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status, self.status, self.kind, self.code, self.message = http_status, status, kind, code, message


def invalid_argument(kind: str, code: str, message: str) -> AdsError:
    """A 400 ``INVALID_ARGUMENT`` with its GoogleAdsFailure error."""
    return AdsError(400, "INVALID_ARGUMENT", kind, code, message)


def failure(
    version: str, error: AdsError, top_message: str, headers: dict[str, str] | None = None, **details: Any
) -> JSONResponse:
    """Google's error envelope holding a GoogleAdsFailure of one error."""
    entry: dict[str, Any] = {"errorCode": {error.kind: error.code}, "message": error.message}
    if details:
        entry["details"] = details
    detail = {
        "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure",
        "errors": [entry],
        "requestId": request_id(),
    }
    body = {"error": {"code": error.http_status, "message": top_message, "status": error.status, "details": [detail]}}
    return JSONResponse(body, status_code=error.http_status, headers=headers)


def refusal(version: str, error: AdsError) -> JSONResponse:
    """A refusal whose envelope message is Google's for its RPC status."""
    top = {
        "INVALID_ARGUMENT": "Request contains an invalid argument.",
        "PERMISSION_DENIED": "The caller does not have permission",
    }.get(error.status, error.message)
    return failure(version, error, top)


def request_id() -> str:
    """A request id like Google's (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)[:22]


class GoogleAdsErrors:
    """Google Ads' failures, in Google's envelope with a GoogleAdsFailure detail."""

    def __init__(self, version: str) -> None:
        self._version = version

    def missing_token(self) -> Response:
        body = {"error": {"code": 401, "message": MISSING_CREDENTIALS, "status": "UNAUTHENTICATED"}}
        return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    def expired_token(self) -> Response:
        return self._unauthenticated("OAUTH_TOKEN_EXPIRED", "The OAuth access token has expired.")

    def revoked_token(self) -> Response:
        return self._unauthenticated("OAUTH_TOKEN_REVOKED", "The OAuth access token is revoked.")

    def rate_limited(self, retry_after_seconds: int) -> Response:
        message = f"Too many requests. Retry in {retry_after_seconds} seconds."
        error = AdsError(429, "RESOURCE_EXHAUSTED", "quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED", message)
        quota = {"rateScope": "ACCOUNT", "rateName": RATE_NAME, "retryDelay": f"{retry_after_seconds}s"}
        headers = {"Retry-After": str(retry_after_seconds)}
        return failure(self._version, error, QUOTA_EXHAUSTED, headers, quotaErrorDetails=quota)

    def server_error(self) -> Response:
        error = AdsError(500, "INTERNAL", "internalError", "INTERNAL_ERROR", "An internal error has occurred.")
        return failure(self._version, error, "Internal error encountered.")

    def _unauthenticated(self, code: str, message: str) -> Response:
        error = AdsError(401, "UNAUTHENTICATED", "authenticationError", code, message)
        return failure(self._version, error, INVALID_CREDENTIALS)


@dataclass(frozen=True)
class Query:
    """A GAQL query as far as this emulator reads it."""

    text: str
    resource: str
    fields: tuple[str, ...]
    days: tuple[date, date] | None
    limit: int | None

    @property
    def metrics(self) -> list[str]:
        """The metrics selected."""
        return [name for name in self.fields if name in METRIC_FIELDS]


def parse_query(text: Any) -> Query:
    """The query's resource, fields, date range and limit; Google's query errors for what it cannot serve."""
    match = QUERY.match(text) if isinstance(text, str) else None
    if match is None:
        raise invalid_argument("queryError", "QUERY_ERROR", "Error in query: expected SELECT <fields> FROM <resource>.")
    resource = match["resource"].lower()
    if resource not in FIELDS:
        message = f"Error in query: the emulator serves FROM campaign and FROM customer only, not '{resource}'."
        raise invalid_argument("queryError", "PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE", message)
    fields = tuple(name.strip().lower() for name in match["fields"].split(","))
    for name in fields:
        if name not in FIELDS[resource]:
            raise invalid_argument("queryError", "UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{name}'.")
    between = BETWEEN.search(match["where"] or "")
    try:
        days = (date.fromisoformat(between[1]), date.fromisoformat(between[2])) if between else None
    except ValueError:
        raise invalid_argument("queryError", "BAD_VALUE", "Error in query: invalid date in BETWEEN.") from None
    query = Query(text, resource, fields, days, int(match["limit"]) if match["limit"] else None)
    if ("segments.date" in fields or query.metrics) and days is None:
        message = "Error in query: segments.date must be filtered with BETWEEN two dates."
        raise invalid_argument("queryError", "EXPECTED_FILTERS_ON_DATE_RANGE", message)
    if query.metrics and "segments.date" not in fields and resource == "campaign":
        raise invalid_argument("queryError", "QUERY_ERROR", "The emulator serves metrics by segments.date only.")
    return query


def camel(name: str) -> str:
    """A proto field name as REST JSON spells it: ``cost_micros`` is ``costMicros``."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def field_mask(fields: tuple[str, ...]) -> str:
    """The ``fieldMask`` of a response: the selected fields, camelCased."""
    return ",".join(".".join(camel(part) for part in name.split(".")) for name in fields)


def render(values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A result row as proto3 JSON: nested by resource, int64 as strings, zero and unset values left out."""
    row: dict[str, dict[str, Any]] = {}
    for name in fields:
        resource, field = name.split(".")
        known_name = values.get(f"{resource}.resource_name")
        nested = row.setdefault(camel(resource), {"resourceName": known_name} if known_name else {})
        value = values[name]
        if value:
            nested[camel(field)] = str(value) if isinstance(value, int) else value
    return row


def customer_values(customer_id: str) -> dict[str, Any]:
    """The ``customer`` resource's fields."""
    account = synthetic.account(PLATFORM, customer_id)
    return {
        "customer.resource_name": f"customers/{customer_id}",
        "customer.id": customer_id,
        "customer.descriptive_name": account.name,
        "customer.currency_code": account.currency,
        "customer.time_zone": account.timezone,
    }


def campaign_values(customer_id: str, campaign: synthetic.Campaign) -> dict[str, Any]:
    """A campaign's and its budget's fields; a campaign that has ended is paused or removed."""
    ended = synthetic.rng(PLATFORM, customer_id, campaign.id).choice(["PAUSED", "REMOVED"])
    budget_id = f"3{campaign.id[1:]}"
    return {
        "campaign.resource_name": f"customers/{customer_id}/campaigns/{campaign.id}",
        "campaign.id": campaign.id,
        "campaign.name": campaign.name,
        "campaign.status": "ENABLED" if campaign.active else ended,
        "campaign.advertising_channel_type": campaign.objective,
        "campaign_budget.resource_name": f"customers/{customer_id}/campaignBudgets/{budget_id}",
        "campaign_budget.amount_micros": int((campaign.daily_budget or 0) * MICROS),
        "campaign_budget.total_amount_micros": int((campaign.lifetime_budget or 0) * MICROS),
        "campaign_budget.period": "DAILY" if campaign.daily_budget else "CUSTOM_PERIOD",
    }


def metric_values(metrics: synthetic.DayMetrics, late: int) -> dict[str, Any]:
    """A campaign-day's metrics: int64 counts and micros as ints, conversions as doubles (credited to clicks)."""
    late = late if metrics.clicks else 0
    return {
        "metrics.cost_micros": int(metrics.spend * MICROS),
        "metrics.impressions": metrics.impressions,
        "metrics.clicks": metrics.clicks,
        "metrics.conversions": float(metrics.conversions + late),
        "metrics.conversions_value": float(metrics.conversion_value + late * LATE_VALUE),
    }


@lru_cache(maxsize=256)
def campaigns(customer_id: str) -> tuple[synthetic.Campaign, ...]:
    """The customer's campaigns, sorted by id."""
    return tuple(synthetic.campaigns(PLATFORM, customer_id))


@lru_cache(maxsize=64)
def result_rows(
    customer_id: str,
    query: Query,
    late: tuple[int, ...],
    restated: tuple[Restatement, ...] = (),
    account_gap_pct: float = 0.0,
) -> tuple[dict[str, Any], ...]:
    """Every row the query returns, rendered; segmented rows whose selected metrics are all zero left out.

    ``late`` holds the conversions each day of the range has gained since (empty when none have); ``restated``
    the campaign-days a test restated (part of the cache key, so a restatement is seen at once).
    """
    restatements = {restatement.key(): restatement for restatement in restated}
    if query.resource == "customer" and query.metrics and query.days:
        rows = customer_metric_rows(customer_id, query, late, restatements, account_gap_pct)
    elif query.resource == "customer":
        rows = [render(customer_values(customer_id), query.fields)]
    elif query.days is None:
        rows = [render(campaign_values(customer_id, one), query.fields) for one in campaigns(customer_id)]
    else:
        rows = []
        for index, day in enumerate(synthetic.days(*query.days)):
            for campaign, metrics in served_days(customer_id, day, restatements):
                values = {
                    **campaign_values(customer_id, campaign),
                    **metric_values(metrics, late[index] if late else 0),
                    "segments.date": day.isoformat(),
                }
                if any(values[name] for name in query.metrics):
                    rows.append(render(values, query.fields))
    return tuple(rows[: query.limit] if query.limit is not None else rows)


def served_days(
    customer_id: str, day: date, restatements: dict[tuple[str, date], Restatement]
) -> list[tuple[synthetic.Campaign, synthetic.DayMetrics]]:
    """Each campaign's metrics of one day as the customer's reports serve them: restated where a test said so."""
    served = []
    for campaign in campaigns(customer_id):
        metrics = synthetic.campaign_day(PLATFORM, customer_id, campaign, day)
        if metrics is not None:
            restatement = restatements.get((campaign.id, day))
            served.append((campaign, restatement.applied(metrics) if restatement else metrics))
    return served


def customer_metric_rows(
    customer_id: str,
    query: Query,
    late: tuple[int, ...],
    restatements: dict[tuple[str, date], Restatement],
    account_gap_pct: float,
) -> list[dict[str, Any]]:
    """The customer's own metrics: the sums of its campaign-days (restated and late ones included), one row per
    day when ``segments.date`` is selected, else one for the range; ``account_gap_pct`` makes them disagree."""
    assert query.days is not None
    days = synthetic.days(*query.days)
    per_day = "segments.date" in query.fields
    spans = [[(index, day)] for index, day in enumerate(days)] if per_day else [list(enumerate(days))]
    factor = 1 + account_gap_pct / 100
    rows = []
    for span in spans:
        sums = dict.fromkeys(METRIC_FIELDS, 0.0)
        for index, day in span:
            for _, metrics in served_days(customer_id, day, restatements):
                for name, value in metric_values(metrics, late[index] if late else 0).items():
                    sums[name] += value
        values: dict[str, Any] = {
            name: round(total * factor) if name in INT64_METRICS else total * factor for name, total in sums.items()
        }
        values |= customer_values(customer_id) | {"segments.date": span[0][1].isoformat()}
        if any(values[name] for name in query.metrics):
            rows.append(render(values, query.fields))
    return rows


def page_token(query: Query, offset: int, calls_before: int) -> str:
    """An opaque token for the next page, bound to its query and to the metrics call it continues."""
    payload = {"q": hashlib.sha256(query.text.encode()).hexdigest()[:16], "o": offset, "c": calls_before}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def read_page_token(token: Any, query: Query) -> tuple[int, int]:
    """The offset and metrics call of a page token; Google refuses one of another query."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if payload["q"] != hashlib.sha256(query.text.encode()).hexdigest()[:16]:
            raise ValueError("the token belongs to another query")
        return int(payload["o"]), int(payload["c"])
    except (ValueError, KeyError, TypeError):
        raise invalid_argument("requestError", "INVALID_PAGE_TOKEN", "Page token is invalid.") from None


def check_headers(request: Request, customer_id: str) -> None:
    """Refuse what Google refuses before reading the query: developer token, customer id, manager header."""
    if not request.headers.get("developer-token"):
        raise invalid_argument("requestError", "DEVELOPER_TOKEN_PARAMETER_MISSING", "developer-token is missing.")
    if not customer_id.isdigit():
        raise invalid_argument("requestError", "INVALID_CUSTOMER_ID", f"Invalid customer ID '{customer_id}'.")
    login_customer_id = request.headers.get("login-customer-id")
    if login_customer_id is not None and not login_customer_id.isdigit():
        message = f"The login customer id header '{login_customer_id}' could not be validated."
        raise invalid_argument("headerError", "INVALID_LOGIN_CUSTOMER_ID", message)
    if login_customer_id is None and customer_id.startswith(MANAGED_PREFIX):
        raise AdsError(403, "PERMISSION_DENIED", "authorizationError", "USER_PERMISSION_DENIED", NEEDS_MANAGER)


async def search_request(request: Request) -> dict[str, Any]:
    """The JSON body of a search; ``pageSize`` is refused since v17."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise invalid_argument("requestError", "BAD_REQUEST", "Invalid JSON payload received.")
    if "pageSize" in body:
        raise invalid_argument("requestError", "PAGE_SIZE_NOT_SUPPORTED", PAGE_SIZE_NOT_SUPPORTED)
    return body


def bearer_token(request: Request) -> str | None:
    """The bearer token of the ``Authorization`` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@router.post("/{version}/customers/{customer_id}/googleAds:search")
async def search(request: Request, version: str, customer_id: str) -> Response:
    """One page of a GAQL query's results."""
    state: EmulatorState = request.app.state.emulator
    refused = await state.gate(PLATFORM, customer_id, bearer_token(request), GoogleAdsErrors(version))
    if refused is not None:
        return refused
    try:
        check_headers(request, customer_id)
        body = await search_request(request)
        query = parse_query(body.get("query"))
        if "pageToken" in body:
            offset, calls_before = read_page_token(body["pageToken"], query)
        else:
            offset, calls_before = 0, state.count_metrics_call(PLATFORM, customer_id) if query.metrics else 0
    except AdsError as error:
        return refusal(version, error)
    return state.answer(PLATFORM, customer_id, search_page(state, customer_id, query, offset, calls_before))


def search_page(state: EmulatorState, customer_id: str, query: Query, offset: int, calls_before: int) -> dict[str, Any]:
    """The page at offset: results (absent when none), the next page's token while rows remain, field mask."""
    late = tuple(
        state.late_conversions(PLATFORM, customer_id, day, calls_before)
        for day in (synthetic.days(*query.days) if query.metrics and query.days else [])
    )
    gap = state.plan(PLATFORM, customer_id).account_level_gap_pct if query.resource == "customer" else 0.0
    rows = result_rows(customer_id, query, late, state.restated_days(PLATFORM, customer_id), gap)
    size = state.page_size(PLATFORM, customer_id, PAGE_ROWS)
    payload: dict[str, Any] = {"results": list(rows[offset : offset + size])} if rows[offset:] else {}
    if offset + size < len(rows):
        payload["nextPageToken"] = page_token(query, offset + size, calls_before)
    return {**payload, "fieldMask": field_mask(query.fields), "requestId": request_id()}
