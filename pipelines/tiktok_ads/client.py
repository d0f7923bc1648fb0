"""HTTP details of TikTok's Business API v1.3: errors in HTTP 200 bodies, JSON list parameters, page numbers.

The token travels in the ``Access-Token`` header only (raw, no ``Bearer``), set by the request's auth so dlt's
request log never shows it. TikTok answers nearly every error with HTTP 200 and a non-zero ``code``; throttles
(40100, 40133) and system errors (50000) are retried like a gateway 429 or 5xx, which the gateway also sends now
and then. TikTok sends no ``Retry-After``, so dlt's exponential backoff sets the pace.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator

from pipelines.base import ConnectionTestResult
from pipelines.budget import Budget, BudgetReading
from pipelines.http import HeaderAuth, PlatformHTTP, is_retryable_status
from pipelines.tiktok_ads.credentials import TikTokAdsCredentials
from pipelines.tiktok_ads.settings import (
    ADVERTISER_FIELDS,
    AUTH_ERROR_CODES,
    CAMPAIGN_FIELDS,
    DATA_LEVEL,
    DISPLAY_NAME,
    MAX_DAYS_PER_REPORT,
    PLATFORM,
    REPORT_DIMENSIONS,
    REPORT_TYPE,
    SERVER_ERROR_CODES,
    THROTTLE_CODES,
    TOKEN_HEADER,
)
from tally.errors import PlatformError, PlatformRateLimited, PlatformResponseError, PlatformUnavailable
from tally.settings import Settings


@dataclass(frozen=True)
class Advertiser:
    """An advertiser as ``advertiser/info/`` describes it."""

    account_id: str
    name: str
    currency: str
    timezone: str
    status: str | None


def business_code(body: Any) -> int | None:
    """The Business API's ``code`` of a JSON body (0 is success), or None for a body without one."""
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def read_error(response: requests.Response, body: Any) -> str | None:
    """TikTok's own reason, ``"<message> (code N)"``, for a body whose ``code`` is not 0; None when it is 0."""
    code = business_code(body)
    if code is None or code == 0:
        return None
    return f"{body.get('message') or 'error'} (code {code})"


def is_auth_error(response: requests.Response, body: Any) -> bool:
    """A wrong app, an empty token, or a token that is wrong, expired or revoked (TikTok says 40105 for all)."""
    return business_code(body) in AUTH_ERROR_CODES or response.status_code == 401


def is_retryable(response: requests.Response, body: Any) -> bool:
    """A gateway 429 or 5xx, or TikTok's throttle and system-error codes, which come in an HTTP 200."""
    return is_retryable_status(response, body) or business_code(body) in THROTTLE_CODES | SERVER_ERROR_CODES


class TikTokHTTP(PlatformHTTP):
    """The shared HTTP layer, told that a throttle or system error in an HTTP 200 body is one.

    The shared layer names the kind of a final failure from its status, which for TikTok's in-body codes is
    200; this names it from the code, so a load that ran out of retries says it was throttled.
    """

    def raise_for(self, response: requests.Response, body: Any, reason: str | None) -> None:
        """Raise the domain error of a failed final response."""
        code = business_code(body)
        if code in THROTTLE_CODES:
            raise self.error(PlatformRateLimited, f"rate limited after retries: {reason}")
        if code in SERVER_ERROR_CODES:
            raise self.error(PlatformUnavailable, f"server error after retries: {reason}")
        super().raise_for(response, body, reason)


def is_throttle(response: requests.Response, body: Any) -> bool:
    """A gateway 429, or TikTok's rate-limit codes in an HTTP 200."""
    return response.status_code == 429 or business_code(body) in THROTTLE_CODES


def read_budget(response: requests.Response, body: Any) -> BudgetReading | None:
    """TikTok's rate-limit codes (in an HTTP 200) as a reading of a spent budget; TikTok reports nothing more."""
    code = business_code(body)
    if code not in THROTTLE_CODES:
        return None
    return BudgetReading(source=f"code {code}", used_pct=100.0, detail={"code": code, "message": body.get("message")})


def tiktok_http(settings: Settings, budget: Budget | None = None) -> TikTokHTTP:
    """The shared HTTP layer speaking TikTok's errors, reporting its throttles to ``budget``."""
    return TikTokHTTP(
        PLATFORM,
        DISPLAY_NAME,
        settings,
        read_error,
        is_auth_error,
        is_retryable=is_retryable,
        read_budget=read_budget,
        is_throttle=is_throttle,
        budget=budget,
    )


def api_client(http: PlatformHTTP, credentials: TikTokAdsCredentials) -> RESTClient:
    """A client of the Business API at the configured host and version."""
    settings = http.settings
    return http.client(
        f"{settings.tiktok_ads_base_url}/open_api/{settings.tiktok_ads_api_version}/",
        auth=HeaderAuth({TOKEN_HEADER: credentials.access_token.get_secret_value()}),
    )


def json_list(values: list[str]) -> str:
    """A list parameter as TikTok takes it in a query string: JSON text, ``["a","b"]``."""
    return json.dumps(values, separators=(",", ":"))


def read_advertiser(http: PlatformHTTP, client: RESTClient, advertiser_id: str) -> Advertiser:
    """The advertiser's name, currency and time zone (its IANA name, ``display_timezone``)."""
    params = {"advertiser_ids": json_list([advertiser_id]), "fields": json_list(ADVERTISER_FIELDS)}
    body = http.get_json(client, "advertiser/info/", params=params)
    found = [entry for entry in _listed(http, body) if str(entry.get("advertiser_id")) == advertiser_id]
    if not found:
        raise http.error(PlatformError, f"advertiser {advertiser_id} is not one this token may read")
    entry = found[0]
    return Advertiser(
        account_id=advertiser_id,
        name=entry.get("name") or advertiser_id,
        currency=entry["currency"],
        # ``timezone`` may be a fixed offset (Etc/GMT+5); the report's days follow the named zone.
        timezone=entry.get("display_timezone") or entry["timezone"],
        status=entry.get("status"),
    )


def _listed(http: PlatformHTTP, body: Any) -> list[dict[str, Any]]:
    listed = body.get("data", {}).get("list") if isinstance(body, dict) else None
    if not isinstance(listed, list):
        raise http.error(PlatformResponseError, "advertiser/info/ answered without data.list")
    return listed


def test_connection(
    credentials: TikTokAdsCredentials, settings: Settings, budget: Budget | None = None
) -> ConnectionTestResult:
    """Read the advertiser the credentials name; TikTok's refusal becomes the result's error. TikTok's advertiser
    info names no scopes, so a permission the token lacks shows as the load's error, not as a missing scope."""
    http = tiktok_http(settings, budget)
    try:
        advertiser = read_advertiser(http, api_client(http, credentials), credentials.advertiser_id)
    except PlatformError as exc:
        return ConnectionTestResult(success=False, error=exc.message)
    return ConnectionTestResult(
        success=True,
        account_id=advertiser.account_id,
        display_name=advertiser.name,
        currency=advertiser.currency,
        timezone=advertiser.timezone,
    )


def report_windows(start_date: date, end_date: date) -> list[tuple[date, date]]:
    """The range cut into windows of at most 30 days, the longest span of one daily report request."""
    step = timedelta(days=MAX_DAYS_PER_REPORT)
    starts = [start_date + step * n for n in range((end_date - start_date).days // MAX_DAYS_PER_REPORT + 1)]
    return [(first, min(first + step - timedelta(days=1), end_date)) for first in starts]


def tiktok_pages() -> PageNumberPaginator:
    """Pages numbered from 1, read until ``page`` reaches ``data.page_info.total_page``."""
    return PageNumberPaginator(base_page=1, page_param="page", total_path="data.page_info.total_page")


def report_pages(
    http: PlatformHTTP,
    client: RESTClient,
    advertiser_id: str,
    window: tuple[date, date],
    metrics: list[str],
    page_size: int,
) -> Iterator[list[dict[str, Any]]]:
    """Every row of the daily campaign report over one window of at most 30 days, page by page."""
    first, last = window
    params = {
        "advertiser_id": advertiser_id,
        "report_type": REPORT_TYPE,
        "data_level": DATA_LEVEL,
        "dimensions": json_list(REPORT_DIMENSIONS),
        "metrics": json_list(metrics),
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
        "page_size": page_size,
    }
    with http.translate_errors():
        yield from client.paginate(
            "report/integrated/get/",
            params=params,
            paginator=tiktok_pages(),
            data_selector="data.list",
            hooks=http.hooks,
        )


def campaign_pages(
    http: PlatformHTTP, client: RESTClient, advertiser_id: str, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Every campaign of the advertiser, page by page."""
    params = {"advertiser_id": advertiser_id, "fields": json_list(list(CAMPAIGN_FIELDS)), "page_size": page_size}
    with http.translate_errors():
        yield from client.paginate(
            "campaign/get/", params=params, paginator=tiktok_pages(), data_selector="data.list", hooks=http.hooks
        )
