"""TikTok's Business API v1.3 as Tally calls it, served under ``/open_api/{version}``.

Routes: ``GET /advertiser/info/``, ``GET /report/integrated/get/`` and ``GET /campaign/get/``. Quirks kept from
the real API:

- the token travels raw in the ``Access-Token`` header; every answer is an envelope ``{"code", "message",
  "request_id", "data"}`` and errors come with **HTTP 200** and a non-zero ``code`` (``data`` is ``{}``): 40104 an
  empty token, 40105 a wrong, expired or revoked one, 40100 a throttle (no ``Retry-After``), 40002 a bad
  parameter. The server-error fault answers code 50000 in an HTTP 200 and a gateway HTTP 500 in turn;
- list parameters are JSON text in the query (``dimensions=["campaign_id","stat_time_day"]``);
- a daily report (``stat_time_day``) spans at most 30 days; ``page`` counts from 1, ``page_size`` is 1 to 1000
  (default 10), and ``data.page_info`` carries ``page``, ``page_size``, ``total_number`` and ``total_page``;
- metrics are strings, ``stat_time_day`` is ``"YYYY-MM-DD 00:00:00"`` in the advertiser's time zone, and a
  campaign-day without delivery is left out of the report;
- ``advertiser/info/`` gives ``timezone`` as a fixed offset (``Etc/GMT+5``) and ``display_timezone`` as the zone
  name; ``campaign/get/`` gives ``budget`` as a JSON number in major units.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from pipelines.emulator import synthetic
from pipelines.emulator.faults import EmulatorState

PLATFORM = "tiktok_ads"
TOKEN_HEADER = "Access-Token"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 10, 1000
MAX_REPORT_DAYS = 30
REPORT_DIMENSIONS = {"campaign_id", "stat_time_day"}
REPORT_METRICS = {
    "campaign_name",
    "spend",
    "impressions",
    "clicks",
    "reach",
    "frequency",
    "conversion",
    "complete_payment",
    "total_complete_payment_rate",
}
# The additive metrics of an AUCTION_ADVERTISER report (reach and frequency count people: not summed).
ADVERTISER_METRICS = REPORT_METRICS - {"campaign_name", "reach", "frequency"}
MONEY_METRICS = {"spend", "total_complete_payment_rate"}
ADVERTISER_FIELDS = (
    "advertiser_id",
    "name",
    "currency",
    "timezone",
    "display_timezone",
    "status",
    "company",
    "country",
    "role",
)
CAMPAIGN_FIELDS = (
    "advertiser_id",
    "campaign_id",
    "campaign_name",
    "objective_type",
    "budget",
    "budget_mode",
    "operation_status",
    "secondary_status",
    "create_time",
    "modify_time",
)
LATE_ORDER_VALUE = Decimal("45.00")  # what each late-attributed purchase adds to the purchase value

router = APIRouter(prefix="/open_api/{version}", tags=["tiktok_ads"])


class InvalidParameter(Exception):
    """A request parameter TikTok would refuse with code 40002; the message is TikTok's kind of wording."""


def envelope(code: int, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """TikTok's answer envelope; a failure carries ``data: {}``."""
    request_id = f"{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(9).upper()}"
    return {"code": code, "message": message, "request_id": request_id, "data": data or {}}


class TikTokErrors:
    """TikTok's failures: envelopes in HTTP 200, except the gateway's own 500 every other server error."""

    def __init__(self, state: EmulatorState, account_id: str) -> None:
        self._state, self._account_id = state, account_id

    def missing_token(self) -> Response:
        return JSONResponse(envelope(40104, "Access token is null."))

    def expired_token(self) -> Response:
        return JSONResponse(envelope(40105, "Access token is incorrect or has been revoked."))

    def revoked_token(self) -> Response:
        return JSONResponse(envelope(40105, "Access token is incorrect or has been revoked."))

    def rate_limited(self, retry_after_seconds: int) -> Response:
        # TikTok sends no Retry-After: a client backs off on its own.
        return JSONResponse(envelope(40100, "Too many requests. Please retry in some time."))

    def server_error(self) -> Response:
        if self._state.requests[(PLATFORM, self._account_id)] % 2:
            return JSONResponse(envelope(50000, "System error. Please try again later."))
        return PlainTextResponse("Internal Server Error", status_code=500)


async def respond(request: Request, account_id: str, build: Callable[[EmulatorState], dict[str, Any]]) -> Response:
    """Gate the request, then answer with ``build``'s data, or code 40002 when a parameter is refused."""
    state: EmulatorState = request.app.state.emulator
    token = request.headers.get(TOKEN_HEADER)
    refused = await state.gate(PLATFORM, account_id, token, TikTokErrors(state, account_id))
    if refused is not None:
        return refused
    try:
        data = build(state)
    except InvalidParameter as exc:
        return state.answer(PLATFORM, account_id, envelope(40002, str(exc)))
    return state.answer(PLATFORM, account_id, envelope(0, "OK", data))


def json_list(name: str, raw: str | None, required: bool = True) -> list[str] | None:
    """A JSON-text list parameter, refused as TikTok refuses it when absent or not a list of strings."""
    if raw is None:
        if required:
            raise InvalidParameter(f"{name}: Missing data for required field.")
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidParameter(f"{name}: Not a valid list.") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidParameter(f"{name}: Not a valid list.")
    return value


def loose_first(raw: str | None) -> str:
    """The first advertiser id of a JSON list, or "" (the gate needs an account before parameters are checked)."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return ""
    return str(value[0]) if isinstance(value, list) and value else ""


def required(name: str, raw: str | None) -> str:
    """A required plain parameter."""
    if not raw:
        raise InvalidParameter(f"{name}: Missing data for required field.")
    return raw


def page_params(page: str | None, page_size: str | None) -> tuple[int, int]:
    """``page`` (from 1) and ``page_size`` (1 to 1000, default 10), refused when out of range."""
    try:
        number, size = int(page or 1), int(page_size or DEFAULT_PAGE_SIZE)
    except ValueError:
        raise InvalidParameter("page, page_size: Not a valid integer.") from None
    if number < 1:
        raise InvalidParameter("page: Must be greater than or equal to 1.")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidParameter(f"page_size: Must be between 1 and {MAX_PAGE_SIZE}.")
    return number, size


def chosen_fields(wanted: list[str] | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """The fields asked for (all known ones when none are), refusing one the endpoint does not have."""
    unknown = sorted(set(wanted or ()) - set(known))
    if unknown:
        raise InvalidParameter(f"fields: Invalid field(s): {', '.join(unknown)}.")
    return tuple(wanted) if wanted else known


def pick(entry: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The entry with only the fields asked for."""
    return {name: entry[name] for name in fields}


def paged(items: list[Any], number: int, size: int) -> dict[str, Any]:
    """One page of ``items`` and TikTok's ``page_info``."""
    total_page = -(-len(items) // size)
    return {
        "list": items[(number - 1) * size : number * size],
        "page_info": {"page": number, "page_size": size, "total_number": len(items), "total_page": total_page},
    }


def fixed_offset_zone(timezone: str) -> str:
    """The zone's standard UTC offset as TikTok's ``timezone`` names it: Etc/GMT+5 is UTC-5."""
    moment = datetime(2025, 1, 15, 12, tzinfo=ZoneInfo(timezone))
    hours = int(((moment.utcoffset() or timedelta()) - (moment.dst() or timedelta())).total_seconds() // 3600)
    return f"Etc/GMT{-hours:+d}" if hours else "Etc/GMT"


def advertiser_entry(advertiser_id: str) -> dict[str, Any]:
    """Everything ``advertiser/info/`` can tell about an advertiser."""
    account = synthetic.account(PLATFORM, advertiser_id)
    return {
        "advertiser_id": advertiser_id,
        "name": account.name,
        "currency": account.currency,
        "timezone": fixed_offset_zone(account.timezone),
        "display_timezone": account.timezone,
        "status": "STATUS_ENABLE",
        "company": f"Demo company {advertiser_id}",
        "country": "DE" if account.currency == "EUR" else "US",
        "role": "ROLE_ADVERTISER",
    }


@router.get("/advertiser/info/")
async def advertiser_info(
    request: Request, version: str, advertiser_ids: str | None = None, fields: str | None = None
) -> Response:
    """The advertisers named, with the fields asked for (all of them when none are)."""

    def build(state: EmulatorState) -> dict[str, Any]:
        ids = json_list("advertiser_ids", advertiser_ids)
        if not ids:
            raise InvalidParameter("advertiser_ids: Missing data for required field.")
        wanted = chosen_fields(json_list("fields", fields, required=False), ADVERTISER_FIELDS)
        return {"list": [pick(advertiser_entry(advertiser_id), wanted) for advertiser_id in ids]}

    return await respond(request, loose_first(advertiser_ids), build)


Delivery = tuple[synthetic.Campaign, date, synthetic.DayMetrics]


@lru_cache(maxsize=32)
def delivered(advertiser_id: str, first: date, last: date) -> tuple[Delivery, ...]:
    """Each campaign-day of the range with delivery, by day then campaign: the report's rows before paging."""
    return tuple(
        (campaign, day, metrics)
        for day in synthetic.days(first, last)
        for campaign in synthetic.campaigns(PLATFORM, advertiser_id)
        if (metrics := synthetic.campaign_day(PLATFORM, advertiser_id, campaign, day)) and metrics.impressions
    )


def report_row(advertiser_id: str, delivery: Delivery, late: int) -> dict[str, Any]:
    """One report row with every metric TikTok can send, as strings; ``late`` purchases attributed since."""
    campaign, day, delivery_metrics = delivery
    purchases = delivery_metrics.conversions + late
    # The optimisation event (an add to cart, a landing-page view ...) happens more often than a purchase.
    event_rate = synthetic.rng(PLATFORM, advertiser_id, campaign.id, day, "event").uniform(0, 0.04)
    value = delivery_metrics.conversion_value + late * LATE_ORDER_VALUE
    return {
        "dimensions": {"campaign_id": campaign.id, "stat_time_day": f"{day.isoformat()} 00:00:00"},
        "metrics": {
            "campaign_name": campaign.name,
            "spend": f"{delivery_metrics.spend:.2f}",
            "impressions": str(delivery_metrics.impressions),
            "clicks": str(delivery_metrics.clicks),
            "reach": str(delivery_metrics.reach),
            "frequency": f"{delivery_metrics.frequency:.2f}",
            "conversion": str(purchases + int(delivery_metrics.clicks * event_rate)),
            "complete_payment": str(purchases),
            "total_complete_payment_rate": f"{value:.2f}",
        },
    }


def report_window(start_date: str | None, end_date: str | None) -> tuple[date, date]:
    """The report's inclusive days, refused when malformed, inverted or longer than a daily report may span."""
    try:
        first = date.fromisoformat(required("start_date", start_date))
        last = date.fromisoformat(required("end_date", end_date))
    except ValueError:
        raise InvalidParameter("start_date, end_date: Not a valid date (YYYY-MM-DD).") from None
    if last < first:
        raise InvalidParameter("end_date: Must be later than or equal to start_date.")
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise InvalidParameter(
            f"The time span between start_date and end_date must not exceed {MAX_REPORT_DAYS} days "
            "when the dimensions include stat_time_day."
        )
    return first, last


def report_shape(params: Any) -> list[str]:
    """The metrics of a BASIC campaign-by-day report, refusing any other kind of report."""
    if required("report_type", params.get("report_type")) != "BASIC":
        raise InvalidParameter("report_type: only BASIC is emulated.")
    if required("data_level", params.get("data_level")) != "AUCTION_CAMPAIGN":
        raise InvalidParameter("data_level: only AUCTION_CAMPAIGN is emulated.")
    if set(json_list("dimensions", params.get("dimensions")) or []) != REPORT_DIMENSIONS:
        raise InvalidParameter('dimensions: only ["campaign_id","stat_time_day"] is emulated.')
    metrics = json_list("metrics", params.get("metrics")) or []
    unknown = sorted(set(metrics) - REPORT_METRICS)
    if not metrics or unknown:
        raise InvalidParameter(f"metrics: Invalid metric(s): {', '.join(unknown) or 'none asked for'}.")
    return metrics


def advertiser_report(state: EmulatorState, advertiser_id: str, params: Any) -> dict[str, Any]:
    """A BASIC report at ``data_level=AUCTION_ADVERTISER``: the advertiser's own totals per day
    (``dimensions=["stat_time_day"]``) or for the range (``["advertiser_id"]``), the sums its campaign rows add
    up to (restated days and late purchases included), unless a test told the advertiser level to disagree."""
    dimensions = json_list("dimensions", params.get("dimensions")) or []
    if dimensions not in (["stat_time_day"], ["advertiser_id"]):
        raise InvalidParameter('dimensions: only ["stat_time_day"] or ["advertiser_id"] is emulated here.')
    metrics = json_list("metrics", params.get("metrics")) or []
    unknown = sorted(set(metrics) - ADVERTISER_METRICS)
    if not metrics or unknown:
        raise InvalidParameter(f"metrics: Invalid metric(s): {', '.join(unknown) or 'none asked for'}.")
    first, last = report_window(params.get("start_date"), params.get("end_date"))
    calls_before = state.count_metrics_call(PLATFORM, advertiser_id)
    per_day = dimensions == ["stat_time_day"]
    sums: dict[str, dict[str, Decimal]] = {}
    for campaign, day, served in delivered(advertiser_id, first, last):
        late = state.late_conversions(PLATFORM, advertiser_id, day, calls_before)
        delivery = (campaign, day, state.restated(PLATFORM, advertiser_id, campaign.id, day, served))
        key = f"{day.isoformat()} 00:00:00" if per_day else advertiser_id
        totals = sums.setdefault(key, dict.fromkeys(metrics, Decimal(0)))
        for name in metrics:
            totals[name] += Decimal(report_row(advertiser_id, delivery, late)["metrics"][name])
    rows = [
        {
            "dimensions": {dimensions[0]: key},
            "metrics": {name: reported(state, advertiser_id, name, total) for name, total in totals.items()},
        }
        for key, totals in sorted(sums.items())
    ]
    return {"list": rows, "page_info": {"page": 1, "page_size": len(rows), "total_number": len(rows), "total_page": 1}}


def reported(state: EmulatorState, advertiser_id: str, metric: str, total: Decimal) -> str:
    """An advertiser-level total as TikTok writes it: counts whole, money to the cent."""
    value = state.account_level(PLATFORM, advertiser_id, total)
    return f"{value:.2f}" if metric in MONEY_METRICS else str(round(value))


def report_page(state: EmulatorState, advertiser_id: str, params: Any) -> dict[str, Any]:
    """One page of the report the parameters ask for, with late purchases when that fault is on."""
    required("advertiser_id", advertiser_id)
    if params.get("data_level") == "AUCTION_ADVERTISER" and params.get("report_type") == "BASIC":
        return advertiser_report(state, advertiser_id, params)
    metrics = report_shape(params)
    first, last = report_window(params.get("start_date"), params.get("end_date"))
    number, size = page_params(params.get("page"), params.get("page_size"))
    page = paged(list(delivered(advertiser_id, first, last)), number, state.page_size(PLATFORM, advertiser_id, size))
    calls_before = state.count_metrics_call(PLATFORM, advertiser_id)
    rows = []
    for campaign, day, served in page["list"]:
        late = state.late_conversions(PLATFORM, advertiser_id, day, calls_before)
        delivery = (campaign, day, state.restated(PLATFORM, advertiser_id, campaign.id, day, served))
        row = report_row(advertiser_id, delivery, late)
        rows.append({"dimensions": row["dimensions"], "metrics": {name: row["metrics"][name] for name in metrics}})
    return {**page, "list": rows}


@router.get("/report/integrated/get/")
async def integrated_report(request: Request, version: str) -> Response:
    """A daily campaign report: one row per campaign-day with delivery, the metrics asked for, page by page."""
    advertiser_id = request.query_params.get("advertiser_id", "")
    return await respond(request, advertiser_id, lambda state: report_page(state, advertiser_id, request.query_params))


def campaign_entry(advertiser_id: str, campaign: synthetic.Campaign) -> dict[str, Any]:
    """Everything ``campaign/get/`` can tell about a campaign; budgets are numbers in major units."""
    budget = campaign.daily_budget or campaign.lifetime_budget
    mode = "BUDGET_MODE_DAY" if campaign.daily_budget else "BUDGET_MODE_TOTAL" if budget else "BUDGET_MODE_INFINITE"
    modified = campaign.end if campaign.end else campaign.start
    return {
        "advertiser_id": advertiser_id,
        "campaign_id": campaign.id,
        "campaign_name": campaign.name,
        "objective_type": campaign.objective,
        "budget": float(budget or 0),
        "budget_mode": mode,
        "operation_status": "ENABLE" if campaign.active else "DISABLE",
        "secondary_status": "CAMPAIGN_STATUS_ENABLE" if campaign.active else "CAMPAIGN_STATUS_DISABLE",
        "create_time": f"{campaign.start - timedelta(days=2)} 10:00:00",
        "modify_time": f"{modified} 18:30:00",
    }


@router.get("/campaign/get/")
async def campaign_list(
    request: Request,
    version: str,
    advertiser_id: str | None = None,
    fields: str | None = None,
    page: str | None = None,
    page_size: str | None = None,
) -> Response:
    """The advertiser's campaigns by id, with the fields asked for, page by page."""

    def build(state: EmulatorState) -> dict[str, Any]:
        account = required("advertiser_id", advertiser_id)
        wanted = chosen_fields(json_list("fields", fields, required=False), CAMPAIGN_FIELDS)
        number, size = page_params(page, page_size)
        entries = [pick(campaign_entry(account, c), wanted) for c in synthetic.campaigns(PLATFORM, account)]
        return paged(entries, number, state.page_size(PLATFORM, account, size))

    return await respond(request, advertiser_id or "", build)
