"""Shopify's Admin REST API as Tally calls it, served under ``/shopify/{shop}`` (for ``https://{shop}.myshopify.com``).

Routes: ``GET /admin/api/{version}/shop.json``, ``GET /admin/oauth/access_scopes.json`` (not versioned, as in the
real API) and ``GET /admin/api/{version}/orders.json``. Quirks kept from the real API:

- the token travels in ``X-Shopify-Access-Token``; a bad one gets 401 ``{"errors": "[API] Invalid API key ..."}``
  (Shopify says the same for a wrong, expired or revoked token); throttling is 429 with ``Retry-After: 2.0``
  (fractional seconds, as Shopify sends them);
- ``orders.json`` lists only open orders unless ``status=any``; ``limit`` is at most 250 (default 50);
  ``created_at_min``/``created_at_max`` are inclusive instants with a UTC offset;
- pages come newest first and chain through the ``Link`` header (``<...?limit=250&page_info=...>; rel="next"``).
  The cursor carries the first request's filters, and a ``page_info`` request that repeats a filter is a 400;
- amounts are decimal strings in the shop currency, ids integers, timestamps in the shop's UTC offset;
- a token starting with ``limited`` lacks ``read_all_orders``: its scopes say so and it sees only orders created
  in the last 60 days (as does a store whose fault plan names ``read_all_orders`` in ``missing_scopes``);
- every answer says how full the store's 40-call bucket is in ``X-Shopify-Shop-Api-Call-Limit`` (``1/40``, or
  the share the ``budget_used_pct`` fault names).

Orders are a pure function of the shop handle and the shop-local day (``orders_on``), so tests can recompute them.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from pipelines.emulator import synthetic
from pipelines.emulator.faults import EmulatorState

PLATFORM = "shopify"
TOKEN_HEADER = "X-Shopify-Access-Token"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
PAGE_INFO_ONLY = (
    "{name} cannot be passed when page_info is present. "
    "See https://shopify.dev/api/usage/pagination-rest for more information."
)
PAGE_INFO_COMPANIONS = {"page_info", "limit", "fields"}
DEFAULT_LIMIT, MAX_LIMIT = 50, 250
LIMITED_TOKEN_PREFIX = "limited"
RECENT_ORDERS = timedelta(days=60)
UNFILTERED_HISTORY = timedelta(days=365)  # a list without created_at_min reaches back this far
ORDER_ID_BASE = 5_000_000_000_000
CENT = Decimal("0.01")
LANDING_SITES = [
    "/",
    "/?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring_sale",
    "/?utm_source=google&utm_medium=cpc&utm_campaign=brand",
    "/products/classic-tee?utm_source=tiktok&utm_medium=paid_social&utm_campaign=launch",
    None,
]
REFERRERS = ["https://www.google.com/", "https://l.facebook.com/", "https://www.tiktok.com/", "", None]

router = APIRouter(prefix="/shopify/{shop}/admin", tags=["shopify"])


class ShopifyErrors:
    """Shopify's error bodies: ``{"errors": ...}`` with the HTTP status carrying the kind."""

    def missing_token(self) -> Response:
        return _errors(INVALID_TOKEN, 401)

    def expired_token(self) -> Response:
        return _errors(INVALID_TOKEN, 401)

    def revoked_token(self) -> Response:
        return _errors(INVALID_TOKEN, 401)

    def rate_limited(self, retry_after_seconds: int) -> Response:
        response = _errors(THROTTLED, 429)
        response.headers["Retry-After"] = f"{retry_after_seconds:.1f}"
        return response

    def server_error(self) -> Response:
        return _errors("Internal Server Error", 500)


ERRORS = ShopifyErrors()


def _errors(errors: str | dict[str, str], status_code: int) -> JSONResponse:
    return JSONResponse({"errors": errors}, status_code=status_code)


@dataclass(frozen=True)
class OrderQuery:
    """The filters of an orders list, which the ``page_info`` cursor carries from page to page.

    ``calls_before`` (how many lists came before this one) fixes the late orders of every page of one list.
    """

    status: str
    created_at_min: str | None
    created_at_max: str | None
    calls_before: int
    after_id: int | None = None


def shop_body(shop: str) -> dict[str, Any]:
    """The ``shop`` object of ``shop.json``."""
    account = synthetic.account(PLATFORM, shop)
    offset = datetime.now(ZoneInfo(account.timezone)).strftime("%z")
    return {
        "id": synthetic.rng(PLATFORM, shop, "shop-id").randint(10**9, 10**11),
        "name": account.name,
        "myshopify_domain": f"{shop}.myshopify.com",
        "domain": f"{shop}.example.com",
        "currency": account.currency,
        "iana_timezone": account.timezone,
        "timezone": f"(GMT{offset[:3]}:{offset[3:]}) {account.timezone}",
        "money_format": "${{amount}}" if account.currency == "USD" else "€{{amount}}",
        "plan_name": "basic",
    }


def orders_on(shop: str, day: date, late: int = 0) -> list[dict[str, Any]]:
    """Every order the shop took on one local day, in id order (a pure function of shop and day).

    ``late`` adds that many orders which reached the store late (imported from another channel), so a
    re-pull of a recent day finds more than the first pull did; their ids follow the day's own.
    """
    account = synthetic.account(PLATFORM, shop)
    zone = ZoneInfo(account.timezone)
    opens = datetime.combine(day, time(), zone).astimezone(UTC)
    day_seconds = int((datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC) - opens).total_seconds())

    def moment(seconds: int) -> datetime:
        return (opens + timedelta(seconds=seconds)).astimezone(zone)

    r = synthetic.rng(PLATFORM, shop, "orders", day.isoformat())
    volume = synthetic.rng(PLATFORM, shop, "order-volume").uniform(4, 40)
    count = 0 if r.random() < 0.05 else int(volume * r.uniform(0.4, 1.6))
    first_id = ORDER_ID_BASE + day.toordinal() * 1000
    seconds = sorted(r.randrange(day_seconds) for _ in range(count))
    made = [_order(r, account, first_id + n, moment(s)) for n, s in enumerate(seconds)]
    for n in range(late):
        # Late orders draw from their own generator, so the day's own orders stay the same.
        lr = synthetic.rng(PLATFORM, shop, "late order", day.isoformat(), n)
        made.append(_order(lr, account, first_id + count + n, moment(lr.randrange(day_seconds))))
    return made


def _order(r: random.Random, account: synthetic.Account, order_id: int, created: datetime) -> dict[str, Any]:
    subtotal = Decimal(str(r.uniform(12, 240))).quantize(CENT)
    discounts = (subtotal * Decimal(r.choice(["0", "0", "0", "0.1", "0.2"]))).quantize(CENT)
    tax = ((subtotal - discounts) * Decimal("0.08")).quantize(CENT)
    total = subtotal - discounts + tax + Decimal(r.choice(["0.00", "4.99", "9.99"]))
    cancelled = created + timedelta(seconds=r.randint(600, 3 * 86400)) if r.random() < 0.06 else None
    if cancelled:
        status = r.choice(["voided", "refunded"])
    else:
        status = r.choices(["paid", "pending", "partially_refunded", "refunded"], weights=[85, 7, 5, 3])[0]
    current = {"refunded": Decimal(0), "voided": Decimal(0), "partially_refunded": total / 2}.get(status, total)
    closed = cancelled or (created + timedelta(days=r.randint(2, 6)) if r.random() < 0.7 else None)
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id - ORDER_ID_BASE - 730_000_000}",
        "created_at": created.isoformat(),
        "processed_at": created.isoformat(),
        "updated_at": (closed or created).isoformat(),
        "cancelled_at": cancelled.isoformat() if cancelled else None,
        "cancel_reason": r.choice(["customer", "inventory", "fraud"]) if cancelled else None,
        "closed_at": closed.isoformat() if closed else None,
        "currency": account.currency,
        "presentment_currency": account.currency,
        "total_price": str(total),
        "current_total_price": str(current.quantize(CENT)),
        "subtotal_price": str(subtotal - discounts),
        "total_tax": str(tax),
        "total_discounts": str(discounts),
        "financial_status": status,
        "test": r.random() < 0.03,
        "source_name": r.choice(["web", "web", "web", "pos", "shopify_draft_order", "iphone"]),
        "landing_site": r.choice(LANDING_SITES),
        "referring_site": r.choice(REFERRERS),
    }


BUCKET_SIZE = 40


def _state(request: Request) -> EmulatorState:
    return request.app.state.emulator


async def _refused(request: Request, shop: str) -> Response | None:
    return await _state(request).gate(PLATFORM, shop, request.headers.get(TOKEN_HEADER), ERRORS)


def _answer(request: Request, shop: str, version: str | None, payload: Any, status_code: int = 200) -> Response:
    response = _state(request).answer(PLATFORM, shop, payload, status_code)
    response.headers["X-Shopify-Shop-Api-Call-Limit"] = _call_limit(_state(request), shop)
    if version:
        response.headers["X-Shopify-API-Version"] = version
    return response


def _call_limit(state: EmulatorState, shop: str) -> str:
    """The bucket's fill as Shopify writes it: one call of 40, or the share a test asked for."""
    used_pct = state.plan(PLATFORM, shop).budget_used_pct
    used = 1 if used_pct is None else max(1, round(BUCKET_SIZE * used_pct / 100))
    return f"{used}/{BUCKET_SIZE}"


def _scopes(request: Request) -> list[str]:
    token = request.headers.get(TOKEN_HEADER, "")
    full_history = [] if token.startswith(LIMITED_TOKEN_PREFIX) else ["read_all_orders"]
    missing = _state(request).plan(PLATFORM, request.path_params.get("shop", "")).missing_scopes
    return [scope for scope in ("read_orders", *full_history, "read_products") if scope not in missing]


@router.get("/api/{version}/shop.json")
async def shop_info(shop: str, version: str, request: Request) -> Response:
    """The store's name, currency and time zone."""
    if refused := await _refused(request, shop):
        return refused
    return _answer(request, shop, version, {"shop": shop_body(shop)})


@router.get("/oauth/access_scopes.json")
async def access_scopes(shop: str, request: Request) -> Response:
    """The scopes granted to the token (unversioned path, as in the real API)."""
    if refused := await _refused(request, shop):
        return refused
    return _answer(request, shop, None, {"access_scopes": [{"handle": h} for h in _scopes(request)]})


@router.get("/api/{version}/orders.json")
async def orders(shop: str, version: str, request: Request) -> Response:
    """One page of the store's orders, newest first, with a ``Link`` header to the next page."""
    if refused := await _refused(request, shop):
        return refused
    params = request.query_params
    try:
        query, limit = _read_query(params, request, shop), _read_limit(params.get("limit"))
        window = _window(query, request, shop)
    except ValueError as exc:
        name, message = exc.args
        return _answer(request, shop, version, {"errors": {name: message}}, 400)
    size = _state(request).page_size(PLATFORM, shop, limit)
    page = list(islice(_matching(_state(request), shop, query, window), size + 1))
    more, page = len(page) > size, page[:size]
    fields = [f for f in params.get("fields", "").split(",") if f]
    body = {"orders": [{k: v for k, v in o.items() if not fields or k in fields} for o in page]}
    response = _answer(request, shop, version, body)
    if more and response.status_code == 200:
        link = {"limit": limit, "page_info": _encode(replace(query, after_id=page[-1]["id"]))}
        link |= {"fields": ",".join(fields)} if fields else {}
        response.headers["Link"] = f'<{request.url.replace(query=urlencode(link))}>; rel="next"'
    return response


def _read_query(params: Any, request: Request, shop: str) -> OrderQuery:
    """The first request's filters, or the ones its ``page_info`` carries (which then allows no others)."""
    if "page_info" in params:
        for name in params:
            if name not in PAGE_INFO_COMPANIONS:
                raise ValueError(name, PAGE_INFO_ONLY.format(name=name))
        return _decode(params["page_info"])
    status = params.get("status", "open")
    if status not in ("open", "closed", "cancelled", "any"):
        raise ValueError("status", "is not included in the list")
    calls_before = _state(request).count_metrics_call(PLATFORM, shop)
    return OrderQuery(status, params.get("created_at_min"), params.get("created_at_max"), calls_before)


def _read_limit(raw: str | None) -> int:
    try:
        limit = int(raw) if raw is not None else DEFAULT_LIMIT
    except ValueError:
        raise ValueError("limit", "Invalid value.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def _window(query: OrderQuery, request: Request, shop: str) -> tuple[datetime, datetime]:
    """The creation instants the list covers: the filters, cut to what exists and what the token may see."""
    now = _now(request)
    created_to = min(_instant("created_at_max", query.created_at_max, shop) or now, now)
    created_from = _instant("created_at_min", query.created_at_min, shop) or created_to - UNFILTERED_HISTORY
    if "read_all_orders" not in _scopes(request):
        created_from = max(created_from, now - RECENT_ORDERS)
    return created_from, created_to


def _instant(name: str, raw: str | None, shop: str) -> datetime | None:
    """A filter instant; one without an offset is read in the shop's time zone."""
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(name, "Invalid value.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(synthetic.account(PLATFORM, shop).timezone))


def _matching(state: EmulatorState, shop: str, query: OrderQuery, window: tuple[datetime, datetime]) -> Iterator[dict]:
    """The orders the filters select that come after the cursor, newest (highest id) first, made day by day."""
    created_from, created_to = window
    zone = ZoneInfo(synthetic.account(PLATFORM, shop).timezone)
    last_day = created_to.astimezone(zone).date()
    if query.after_id is not None:
        last_day = min(last_day, date.fromordinal((query.after_id - ORDER_ID_BASE) // 1000))
    for day in reversed(synthetic.days(created_from.astimezone(zone).date(), last_day)):
        late = state.late_conversions(PLATFORM, shop, day, query.calls_before)
        for order in reversed(orders_on(shop, day, late)):
            if (
                created_from <= datetime.fromisoformat(order["created_at"]) <= created_to
                and _has_status(order, query.status)
                and (query.after_id is None or order["id"] < query.after_id)
            ):
                yield order


def _has_status(order: dict[str, Any], status: str) -> bool:
    if status == "any":
        return True
    if status == "cancelled":
        return order["cancelled_at"] is not None
    closed = order["closed_at"] is not None
    return closed if status == "closed" else not closed and order["cancelled_at"] is None


def _now(request: Request) -> datetime:
    today = _state(request).today
    return datetime.combine(today, time(), UTC) if today else datetime.now(UTC)


def _encode(query: OrderQuery) -> str:
    return base64.urlsafe_b64encode(json.dumps(asdict(query), separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(page_info: str) -> OrderQuery:
    try:
        return OrderQuery(**json.loads(base64.urlsafe_b64decode(page_info + "=" * (-len(page_info) % 4))))
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("page_info", "Invalid value.") from None
