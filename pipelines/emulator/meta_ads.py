"""Meta's Marketing API (Graph API) as Tally calls it, served under ``/{version}`` (``/v23.0/act_123/insights``).

Routes: ``GET /act_{id}`` (the ad account node), ``GET /act_{id}/insights``, ``GET /act_{id}/campaigns``,
``GET /me/permissions`` and ``GET /debug_token``. Quirks kept from the real API:

- the token comes as ``Authorization: Bearer`` (or ``OAuth``) or as the ``access_token`` query parameter;
  errors use Meta's envelope ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``: code
  104 with no token, 190/463 an expired one, 190/460 one invalidated by a password change (both HTTP 400 with
  ``WWW-Authenticate``), 100 a bad parameter. The throttle fault answers HTTP 429 with ``Retry-After`` AND
  Meta's body with code 80004 (ads insights), the server-error fault HTTP 500 with code 2;
- ``fields`` picks what a node or row holds; an unknown field is refused with code 100;
- lists page by cursor: ``paging.cursors.before/after``, and ``paging.next`` only while another page exists,
  built from the request's own query without ``access_token``; ``limit`` defaults to 25;
- insights (``level=campaign``, ``time_increment=1``, ``time_range={"since","until"}``) leave out
  campaign-days without delivery; numbers are strings; each purchase is repeated under ``purchase``,
  ``omni_purchase`` and ``offsite_conversion.fb_pixel_purchase`` (in ``actions`` and ``action_values``) beside
  a ``link_click``; ``actions``/``action_values`` are absent, not empty, when nothing happened;
- campaign budgets are strings in the currency's minor units, absent when the campaign has none.

- every ad account answer reports the budget in ``X-Business-Use-Case-Usage`` (``{"<id>": [{"type",
  "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"}]}``, percentages and minutes)
  and ``X-Ad-Account-Usage`` (``{"acc_id_util_pct", "reset_time_duration", "ads_api_access_tier"}``): 1% used,
  or what the account's ``budget_used_pct`` and ``budget_regain_minutes`` faults say;
- ``debug_token?input_token=...`` answers ``{"data": {"app_id", "type", "application", "expires_at",
  "data_access_expires_at", "is_valid", "issued_at", "scopes", "user_id"}}``; both expiries 0 (a system user's
  token never expires) unless the ``token_expires_in_days`` fault makes it a user's token, expiring then, whose
  data access lasts 90 days. The ``missing_scopes`` fault takes scopes out of ``scopes`` and declines them in
  ``/me/permissions``.

``/me/permissions`` and ``/debug_token`` belong to no ad account: their faults and request count are kept under
the account ``me``.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from pipelines.emulator import synthetic
from pipelines.emulator.faults import EmulatorState

PLATFORM = "meta_ads"
DEFAULT_PAGE_SIZE = 25
TOKEN_SCHEMES = ("bearer", "oauth")
# The fields an insights row can hold here (Meta's have many more).
INSIGHT_FIELDS = tuple(
    [
        "account_id",
        "account_currency",
        "campaign_id",
        "campaign_name",
        "spend",
        "impressions",
        "clicks",
        "reach",
        "frequency",
        "actions",
        "action_values",
        "date_start",
        "date_stop",
    ]
)
# The fields of a ``level=account`` row: the account's own totals (no campaign, no reach: people are not additive).
ACCOUNT_INSIGHT_FIELDS = (
    "account_id",
    "account_currency",
    "spend",
    "impressions",
    "clicks",
    "actions",
    "action_values",
    "date_start",
    "date_stop",
)
PURCHASE_ACTION_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase")
PERMISSIONS = (("ads_read", "granted"), ("ads_management", "declined"), ("business_management", "granted"))
TOKEN_ACCOUNT = "me"
APP_ID = "1000000000000001"
DATA_ACCESS_DAYS = 90
# What an ad account has used of its budget when no test said otherwise, in percent.
USUAL_USAGE_PCT = 1
LATE_ORDER_VALUE = Decimal("45.00")  # what each late-attributed purchase adds to the purchase value

router = APIRouter(prefix="/{version}", tags=["meta_ads"])


class GraphError(Exception):
    """A request Meta would refuse with code 100 (invalid parameter); the message is Meta's kind of wording."""


def error_body(message: str, code: int, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    """Meta's error envelope."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, **extra, "fbtrace_id": secrets.token_urlsafe(8)}}


def token_error(message: str, subcode: int | None) -> Response:
    """A refused token: HTTP 400, Meta's body and the ``WWW-Authenticate`` header Graph sends beside it."""
    challenge = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return JSONResponse(error_body(message, 190, subcode), status_code=400, headers={"WWW-Authenticate": challenge})


class MetaErrors:
    """Meta's failures, in its own words and status codes."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    def missing_token(self) -> Response:
        return JSONResponse(error_body("An access token is required to request this resource.", 104), 400)

    def expired_token(self) -> Response:
        expired = datetime.combine(self._state.current_date() - timedelta(days=1), time(10))
        return token_error(
            f"Error validating access token: Session has expired on {expired:%A, %d-%b-%y %H:%M:%S} PDT.", 463
        )

    def revoked_token(self) -> Response:
        return token_error(
            "Error validating access token: The session has been invalidated because the user changed their "
            "password or Facebook has changed the session for security reasons.",
            460,
        )

    def rate_limited(self, retry_after_seconds: int) -> Response:
        regain_minutes = max(1, retry_after_seconds // 60)
        usage = {"type": "ads_insights", "call_count": 100, "estimated_time_to_regain_access": regain_minutes}
        body = error_body(
            "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For more info, "
            "please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
            80004,
            2446079,
        )
        headers = {"Retry-After": str(retry_after_seconds), "x-business-use-case-usage": json.dumps({"0": [usage]})}
        return JSONResponse(body, status_code=429, headers=headers)

    def server_error(self) -> Response:
        body = error_body("An unexpected error has occurred. Please retry your request later.", 2, is_transient=True)
        return JSONResponse(body, status_code=500)


def request_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer|OAuth <token>``, else of the ``access_token`` query parameter."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in TOKEN_SCHEMES and token.strip():
        return token.strip()
    return request.query_params.get("access_token")


async def respond(request: Request, account_id: str, build: Callable[[EmulatorState], dict[str, Any]]) -> Response:
    """Gate the request, then answer with ``build``'s body, or code 100 when a parameter is refused; every answer
    of an ad account reports its budget in Meta's usage headers."""
    state: EmulatorState = request.app.state.emulator
    refused = await state.gate(PLATFORM, account_id, request_token(request), MetaErrors(state))
    if refused is None:
        try:
            body = build(state)
        except GraphError as exc:
            refused = state.answer(PLATFORM, account_id, error_body(str(exc), 100), status_code=400)
        else:
            refused = state.answer(PLATFORM, account_id, body)
    if account_id != TOKEN_ACCOUNT:
        for name, value in usage_headers(state, account_id).items():
            refused.headers.setdefault(name, value)
    return refused


def usage_headers(state: EmulatorState, account_id: str) -> dict[str, str]:
    """Meta's two usage headers for an ad account, at the share used its fault plan names."""
    plan = state.plan(PLATFORM, account_id)
    used = USUAL_USAGE_PCT if plan.budget_used_pct is None else round(plan.budget_used_pct)
    regain = plan.budget_regain_minutes
    business = [
        {
            "type": "ads_insights",
            "call_count": used,
            "total_cputime": max(1, used // 2),
            "total_time": max(1, used // 2),
            "estimated_time_to_regain_access": regain,
        }
    ]
    account = {"acc_id_util_pct": used, "reset_time_duration": regain * 60, "ads_api_access_tier": "standard_access"}
    return {"x-business-use-case-usage": json.dumps({account_id: business}), "x-ad-account-usage": json.dumps(account)}


def wanted_fields(raw: str | None, always: tuple[str, ...]) -> tuple[str, ...]:
    """The fields a ``fields`` parameter names, after those always sent."""
    return tuple(dict.fromkeys([*always, *(name.strip() for name in (raw or "").split(",") if name.strip())]))


def pick(entry: dict[str, Any], fields: tuple[str, ...], node_type: str) -> dict[str, Any]:
    """The entry with only the fields asked for, refusing one it does not have; a None value is left out,
    as Meta leaves out a field without a value."""
    for name in fields:
        if name not in entry:
            raise GraphError(f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})")
    return {name: entry[name] for name in fields if entry[name] is not None}


def cursor(index: int) -> str:
    """An opaque cursor naming one row of a list."""
    return base64.urlsafe_b64encode(str(index).encode()).decode().rstrip("=")


def after_offset(raw: str | None) -> int:
    """Where a page starts: after the row the ``after`` cursor names, or at the top without one."""
    if raw is None:
        return 0
    try:
        index = int(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except ValueError:
        index = -1
    if index < 0:
        raise GraphError("(#100) Invalid cursor: after")
    return index + 1


def page_limit(state: EmulatorState, account_id: str, raw: str | None) -> int:
    """Rows per page: ``limit`` (default 25), or a smaller size a test asked for."""
    try:
        limit = int(raw or DEFAULT_PAGE_SIZE)
    except ValueError:
        raise GraphError("(#100) Param limit must be an integer") from None
    if limit < 1:
        raise GraphError("(#100) Param limit must be a positive integer")
    return state.page_size(PLATFORM, account_id, limit)


def paged(request: Request, page: list[dict[str, Any]], offset: int, total: int) -> dict[str, Any]:
    """A page of rows from ``offset`` of ``total`` with Meta's ``paging``; ``next`` only while rows remain,
    built from the request's own query without a token."""
    if not page:
        return {"data": []}
    last = offset + len(page) - 1
    paging: dict[str, Any] = {"cursors": {"before": cursor(offset), "after": cursor(last)}}
    if last + 1 < total:
        here = request.url.remove_query_params(["access_token", "after"])
        paging["next"] = str(here.include_query_params(after=cursor(last)))
    return {"data": page, "paging": paging}


def utc_offset_hours(timezone: str, day: date) -> float:
    """The zone's offset from UTC on a day, in hours."""
    offset = datetime.combine(day, time(12), ZoneInfo(timezone)).utcoffset() or timedelta()
    return offset.total_seconds() / 3600


def account_node(state: EmulatorState, account_id: str) -> dict[str, Any]:
    """Everything the ad account node can tell."""
    account = synthetic.account(PLATFORM, account_id)
    return {
        "id": f"act_{account_id}",
        "account_id": account_id,
        "name": account.name,
        "currency": account.currency,
        "timezone_name": account.timezone,
        "timezone_offset_hours_utc": utc_offset_hours(account.timezone, state.current_date()),
        "account_status": 1,
    }


def permission_list(state: EmulatorState) -> list[tuple[str, str]]:
    """Each permission and its status, those a test took away declined."""
    missing = state.plan(PLATFORM, TOKEN_ACCOUNT).missing_scopes
    return [(name, "declined" if name in missing else status) for name, status in PERMISSIONS]


@router.get("/me/permissions")
async def permissions(request: Request, version: str) -> Response:
    """The permissions the token's user (or system user) granted or declined."""

    def build(state: EmulatorState) -> dict[str, Any]:
        return {"data": [{"permission": name, "status": status} for name, status in permission_list(state)]}

    return await respond(request, TOKEN_ACCOUNT, build)


@router.get("/debug_token")
async def debug_token(request: Request, version: str, input_token: str | None = None) -> Response:
    """What Meta knows of the token named by ``input_token``: its expiry, data access expiry and scopes."""

    def build(state: EmulatorState) -> dict[str, Any]:
        if not input_token:
            raise GraphError("(#100) The parameter input_token is required")
        plan = state.plan(PLATFORM, TOKEN_ACCOUNT)
        now = datetime.now(UTC) if state.today is None else datetime.combine(state.today, time(12), UTC)
        days = plan.token_expires_in_days
        expires_at = 0 if days is None else int((now + timedelta(days=days)).timestamp())
        # A system user's token never expires and neither does its data access; a user's data access lasts 90 days.
        data_access = 0 if days is None else int((now + timedelta(days=DATA_ACCESS_DAYS)).timestamp())
        granted = [name for name, status in permission_list(state) if status == "granted"]
        data = {
            "app_id": APP_ID,
            "type": "SYSTEM_USER" if days is None else "USER",
            "application": "Tally",
            "data_access_expires_at": data_access,
            "expires_at": expires_at,
            "is_valid": True,
            "issued_at": int((now - timedelta(days=1)).timestamp()),
            "scopes": granted,
            "user_id": "10000000000000001",
        }
        return {"data": data}

    return await respond(request, TOKEN_ACCOUNT, build)


@router.get("/act_{account_id}")
async def ad_account(request: Request, version: str, account_id: str, fields: str | None = None) -> Response:
    """The ad account node with the fields asked for (``id`` and ``account_id`` when none are)."""

    def build(state: EmulatorState) -> dict[str, Any]:
        wanted = wanted_fields(fields, always=("id",)) if fields else ("account_id", "id")
        return pick(account_node(state, account_id), wanted, "AdAccount")

    return await respond(request, account_id, build)


Delivery = tuple[synthetic.Campaign, date, synthetic.DayMetrics]


@lru_cache(maxsize=32)
def delivered(account_id: str, first: date, last: date) -> tuple[Delivery, ...]:
    """Each campaign-day of the range with delivery, by day then campaign: the insights rows before paging."""
    return tuple(
        (campaign, day, metrics)
        for day in synthetic.days(first, last)
        for campaign in synthetic.campaigns(PLATFORM, account_id)
        if (metrics := synthetic.campaign_day(PLATFORM, account_id, campaign, day)) and metrics.impressions
    )


def actions(kind_values: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Meta's list of ``{action_type, value}`` entries."""
    return [{"action_type": kind, "value": value} for kind, value in kind_values]


def insights_row(account_id: str, delivery: Delivery, late: int) -> dict[str, Any]:
    """One insights row with every field Meta can send; ``late`` purchases attributed since the first call."""
    campaign, day, metrics = delivery
    purchases = metrics.conversions + late
    value = metrics.conversion_value + late * LATE_ORDER_VALUE
    # Link clicks are the clicks that left for the advertiser's site: most, not all, of ``clicks``. Awareness
    # campaigns send no one to a site here, so their days without a purchase have no ``actions`` at all.
    link_share = synthetic.rng(PLATFORM, account_id, campaign.id, day, "link").uniform(0.7, 0.95)
    link_clicks = 0 if campaign.objective == "OUTCOME_AWARENESS" else int(metrics.clicks * link_share)
    row: dict[str, Any] = {
        "account_id": account_id,
        "account_currency": synthetic.account(PLATFORM, account_id).currency,
        "campaign_id": campaign.id,
        "campaign_name": campaign.name,
        "spend": f"{metrics.spend:.2f}",
        "impressions": str(metrics.impressions),
        "clicks": str(metrics.clicks),
        "reach": str(metrics.reach),
        "frequency": f"{metrics.frequency}",
        "date_start": day.isoformat(),
        "date_stop": day.isoformat(),
    }
    counted = ([("link_click", str(link_clicks))] if link_clicks else []) + (
        [(kind, str(purchases)) for kind in PURCHASE_ACTION_TYPES] if purchases else []
    )
    row["actions"] = actions(counted) if counted else None
    valued = purchases and value
    row["action_values"] = actions([(kind, f"{value:.2f}") for kind in PURCHASE_ACTION_TYPES]) if valued else None
    return row


def time_range(raw: str | None) -> tuple[date, date]:
    """The report's inclusive days from ``time_range={"since": ..., "until": ...}``."""
    try:
        window = json.loads(raw or "")
        since, until = date.fromisoformat(window["since"]), date.fromisoformat(window["until"])
    except (ValueError, TypeError, KeyError):
        raise GraphError(
            '(#100) Param time_range must be a JSON object {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}'
        ) from None
    if until < since:
        raise GraphError("(#100) Param time_range: since must be on or before until")
    return since, until


def insights_shape(params: Any) -> tuple[str, ...]:
    """The row fields of a daily campaign report, refusing any other kind of report."""
    if params.get("level") != "campaign":
        raise GraphError("(#100) level: only campaign and account are emulated")
    if params.get("time_increment") != "1":
        raise GraphError("(#100) time_increment: only 1 (daily rows) is emulated")
    return report_fields(params, INSIGHT_FIELDS)


def report_fields(params: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The fields a report asks for, refusing one the level does not have; the dates always come."""
    fields = wanted_fields(params.get("fields"), always=())
    for name in fields:
        if name not in allowed:
            raise GraphError(f"(#100) {name} is not valid for fields param. please check {', '.join(allowed)}")
    return tuple(dict.fromkeys([*fields, "date_start", "date_stop"]))


def account_insights(request: Request, state: EmulatorState, account_id: str) -> dict[str, Any]:
    """Insights at ``level=account``: the ad account's own totals, per day (``time_increment=1``) or for the
    whole range (``all_days``, the default), the same sums the campaign rows add up to (restated days and late
    purchases included), unless a test told the account level to disagree."""
    params = request.query_params
    fields = report_fields(params, ACCOUNT_INSIGHT_FIELDS)
    first, last = time_range(params.get("time_range"))
    increment = params.get("time_increment", "all_days")
    if increment not in ("1", "all_days"):
        raise GraphError("(#100) time_increment: only 1 and all_days are emulated")
    calls_before = state.count_metrics_call(PLATFORM, account_id)
    served = delivered(account_id, first, last) if state.delivers(PLATFORM, account_id) else ()
    spans = [(day, day) for day in synthetic.days(first, last)] if increment == "1" else [(first, last)]
    rows = []
    for since, until in spans:
        deliveries = [
            (campaign, day, state.restated(PLATFORM, account_id, campaign.id, day, metrics))
            for campaign, day, metrics in served
            if since <= day <= until
        ]
        if deliveries:
            row = account_row(state, account_id, deliveries, calls_before, (since, until))
            rows.append(pick(row, fields, "AdsInsights"))
    return {"data": rows}


def account_row(
    state: EmulatorState, account_id: str, deliveries: list[Delivery], calls_before: int, span: tuple[date, date]
) -> dict[str, Any]:
    """One account-level insights row: the campaign-days' sums as Meta writes them."""
    late = [state.late_conversions(PLATFORM, account_id, day, calls_before) for _, day, _ in deliveries]
    purchases = sum(metrics.conversions for _, _, metrics in deliveries) + sum(late)
    value = sum((m.conversion_value for _, _, m in deliveries), Decimal(0)) + sum(late) * LATE_ORDER_VALUE

    def reported(total: Decimal) -> Decimal:
        return state.account_level(PLATFORM, account_id, total)

    spend = reported(sum((metrics.spend for _, _, metrics in deliveries), Decimal(0)))
    counted = [(kind, str(round(reported(Decimal(purchases))))) for kind in PURCHASE_ACTION_TYPES] if purchases else []
    valued = [(kind, f"{reported(value):.2f}") for kind in PURCHASE_ACTION_TYPES] if purchases and value else []
    return {
        "account_id": account_id,
        "account_currency": synthetic.account(PLATFORM, account_id).currency,
        "spend": f"{spend:.2f}",
        "impressions": str(round(reported(Decimal(sum(m.impressions for _, _, m in deliveries))))),
        "clicks": str(round(reported(Decimal(sum(m.clicks for _, _, m in deliveries))))),
        "actions": actions(counted) if counted else None,
        "action_values": actions(valued) if valued else None,
        "date_start": span[0].isoformat(),
        "date_stop": span[1].isoformat(),
    }


def insights_page(request: Request, state: EmulatorState, account_id: str) -> dict[str, Any]:
    """One page of the insights the query asks for, with late purchases when that fault is on.

    A report counts as one metrics call when its first page is read, so all its pages agree.
    """
    params = request.query_params
    fields = insights_shape(params)
    first, last = time_range(params.get("time_range"))
    offset, size = after_offset(params.get("after")), page_limit(state, account_id, params.get("limit"))
    if params.get("after") is None:
        calls_before = state.count_metrics_call(PLATFORM, account_id)
    else:
        calls_before = max(0, state.metric_calls[(PLATFORM, account_id)] - 1)
    served = delivered(account_id, first, last) if state.delivers(PLATFORM, account_id) else ()
    rows = []
    for campaign, day, metrics in served[offset : offset + size]:
        late = state.late_conversions(PLATFORM, account_id, day, calls_before)
        delivery = (campaign, day, state.restated(PLATFORM, account_id, campaign.id, day, metrics))
        rows.append(pick(insights_row(account_id, delivery, late), fields, "AdsInsights"))
    return paged(request, rows, offset, len(served))


@router.get("/act_{account_id}/insights")
async def insights(request: Request, version: str, account_id: str) -> Response:
    """Daily campaign insights (one row per campaign-day with delivery, the fields asked for, page by page), or
    the account's own totals at ``level=account``."""
    if request.query_params.get("level") == "account":
        response = await respond(request, account_id, lambda state: account_insights(request, state, account_id))
    else:
        response = await respond(request, account_id, lambda state: insights_page(request, state, account_id))
    response.headers["x-fb-ads-insights-throttle"] = json.dumps({"app_id_util_pct": 0, "acc_id_util_pct": 1})
    return response


def meta_time(day: date, timezone: str) -> str:
    """A local midnight in Meta's format, ``2026-09-01T00:00:00-0700``."""
    return datetime.combine(day, time(0), ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M:%S%z")


def minor_units(amount: Decimal | None) -> str | None:
    """A budget in the currency's minor units as Meta writes it (cents for USD and EUR)."""
    return None if amount is None else str(int(amount * 100))


def campaign_entry(account_id: str, campaign: synthetic.Campaign) -> dict[str, Any]:
    """Everything the campaigns edge can tell about a campaign; None where Meta leaves a field out."""
    timezone = synthetic.account(PLATFORM, account_id).timezone
    status = "ACTIVE" if campaign.active else "PAUSED"
    entry = {
        "id": campaign.id,
        "account_id": account_id,
        "name": campaign.name,
        "status": status,
        "effective_status": status,
        "objective": campaign.objective,
        "daily_budget": minor_units(campaign.daily_budget),
        "lifetime_budget": minor_units(campaign.lifetime_budget),
        "start_time": meta_time(campaign.start, timezone),
        "stop_time": meta_time(campaign.end, timezone) if campaign.end else None,
        "created_time": meta_time(campaign.start - timedelta(days=2), timezone),
        "updated_time": meta_time(campaign.end or campaign.start, timezone),
    }
    return entry


@router.get("/act_{account_id}/campaigns")
async def campaign_list(request: Request, version: str, account_id: str) -> Response:
    """The ad account's campaigns by id, with the fields asked for (``id`` when none are), page by page."""

    def build(state: EmulatorState) -> dict[str, Any]:
        params = request.query_params
        wanted = wanted_fields(params.get("fields"), always=("id",))
        offset, size = after_offset(params.get("after")), page_limit(state, account_id, params.get("limit"))
        listed = synthetic.campaigns(PLATFORM, account_id)
        page = [pick(campaign_entry(account_id, c), wanted, "Campaign") for c in listed[offset : offset + size]]
        return paged(request, page, offset, len(listed))

    return await respond(request, account_id, build)
