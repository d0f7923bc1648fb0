"""HTTP details of Shopify's Admin REST API: the store's client, its errors, the shop info call and order pages.

The token travels in the ``X-Shopify-Access-Token`` header of each request sent (``HeaderAuth``), never in a
URL or a logged header. Retries on 429 and 5xx are dlt's (PlatformHTTP); Shopify throttles REST only with 429.
Every answer says how full the store's leaky bucket is (``X-Shopify-Shop-Api-Call-Limit: 32/40``); above 90% the
next call waits until the bucket has leaked back to that line (two calls a second).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from pipelines.base import ConnectionTestResult
from pipelines.budget import NEARLY_SPENT_PCT, Budget, BudgetReading
from pipelines.http import HeaderAuth, PlatformHTTP
from pipelines.shopify.credentials import ShopifyCredentials
from pipelines.shopify.settings import (
    CALL_LIMIT_HEADER,
    DISPLAY_NAME,
    LEAK_PER_SECOND,
    ORDER_FIELDS,
    PLATFORM,
    TOKEN_HEADER,
)
from tally.errors import PlatformError, PlatformResponseError
from tally.settings import Settings


@dataclass(frozen=True)
class Store:
    """A store as ``shop.json`` and ``access_scopes.json`` describe it."""

    account_id: str
    name: str
    currency: str
    timezone: str
    scopes: list[str]


def read_error(response: requests.Response, body: Any) -> str | None:
    """Shopify's own reason: ``{"errors": "..."}``, or ``{"errors": {"field": "..." or [...]}}`` for a bad request."""
    if response.ok:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        return "; ".join(f"{field}: {_joined(problem)}" for field, problem in errors.items())
    return _joined(errors) if errors else None


def _joined(problem: Any) -> str:
    return ", ".join(str(p) for p in problem) if isinstance(problem, list) else str(problem)


def is_auth_error(response: requests.Response, body: Any) -> bool:
    """401 is a wrong, expired or revoked token; 403 a token without the scope the call needs."""
    return response.status_code in (401, 403)


def read_budget(response: requests.Response, body: Any) -> BudgetReading | None:
    """The bucket's fill from ``X-Shopify-Shop-Api-Call-Limit`` (``used/size``); above 90% full, the wait until it
    has leaked back to 90%."""
    used, _, size = (response.headers.get(CALL_LIMIT_HEADER) or "").partition("/")
    try:
        calls, bucket = int(used), int(size)
    except ValueError:
        return None
    if bucket <= 0:
        return None
    share = 100.0 * calls / bucket
    over = calls - bucket * NEARLY_SPENT_PCT / 100
    wait = round(over / LEAK_PER_SECOND, 3) if share > NEARLY_SPENT_PCT else None
    asked = f"{CALL_LIMIT_HEADER}: {calls}/{bucket}" if wait else None
    detail = {"calls": calls, "bucket_size": bucket}
    return BudgetReading(source=CALL_LIMIT_HEADER, used_pct=share, detail=detail, wait_s=wait, asked=asked)


def shopify_http(settings: Settings, budget: Budget | None = None) -> PlatformHTTP:
    """The shared HTTP layer speaking Shopify's errors, reporting to ``budget``."""
    return PlatformHTTP(
        PLATFORM, DISPLAY_NAME, settings, read_error, is_auth_error, read_budget=read_budget, budget=budget
    )


def store_client(http: PlatformHTTP, credentials: ShopifyCredentials) -> RESTClient:
    """A client of one store's Admin API, rooted at the store's host (from settings, with the validated handle)."""
    auth = HeaderAuth({TOKEN_HEADER: credentials.access_token.get_secret_value()})
    return http.client(http.settings.shopify_base_url.format(shop=credentials.shop), auth=auth)


def read_store(http: PlatformHTTP, client: RESTClient, credentials: ShopifyCredentials) -> Store:
    """The store's name, currency and time zone, and the scopes the token holds."""
    shop = http.get_json(client, f"admin/api/{http.settings.shopify_api_version}/shop.json")["shop"]
    # The one Admin path outside /api/{version}.
    granted = http.get_json(client, "admin/oauth/access_scopes.json")["access_scopes"]
    return Store(
        account_id=credentials.account_id(),
        name=shop["name"],
        currency=shop["currency"],
        timezone=shop["iana_timezone"],
        scopes=[scope["handle"] for scope in granted],
    )


def test_connection(
    credentials: ShopifyCredentials, settings: Settings, budget: Budget | None = None
) -> ConnectionTestResult:
    """Read the store and the token's scopes; a store without ``read_all_orders`` still passes (see scopes)."""
    http = shopify_http(settings, budget)
    try:
        store = read_store(http, store_client(http, credentials), credentials)
    except PlatformError as exc:
        return ConnectionTestResult(success=False, error=exc.message)
    return ConnectionTestResult(
        success=True,
        account_id=store.account_id,
        display_name=store.name,
        currency=store.currency,
        timezone=store.timezone,
        scopes=store.scopes,
    )


class StoreLinkPaginator(HeaderLinkPaginator):
    """Follows ``Link: <...>; rel="next"``, but only on the store's own host: the token goes with each request."""

    def __init__(self, http: PlatformHTTP) -> None:
        super().__init__(links_next_key="next")
        self._http = http

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        if self._next_reference and _origin(self._next_reference) != _origin(response.url):
            raise self._http.error(PlatformResponseError, "the next page link points to another host")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def order_pages(
    http: PlatformHTTP, client: RESTClient, created_at_min: str, created_at_max: str, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Every order created in the window, page by page. ``status=any``: the default lists open orders only."""
    params = {
        "status": "any",
        "created_at_min": created_at_min,
        "created_at_max": created_at_max,
        "limit": page_size,
        "fields": ",".join(ORDER_FIELDS),
    }
    with http.translate_errors():
        yield from client.paginate(
            f"admin/api/{http.settings.shopify_api_version}/orders.json",
            params=params,
            paginator=StoreLinkPaginator(http),
            data_selector="orders",
            hooks=http.hooks,
        )


def local_day_bounds(first: date, last: date, timezone: str) -> tuple[str, str]:
    """``created_at_min``/``max`` covering the local days first..last: both bounds inclusive, each with its own
    UTC offset (a range may cross a daylight-saving change)."""
    zone = ZoneInfo(timezone)
    opens = datetime.combine(first, time(), zone)
    closes = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC) - timedelta(seconds=1)
    return opens.isoformat(), closes.astimezone(zone).isoformat()
