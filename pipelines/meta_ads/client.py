"""HTTP details of Meta's Marketing API (Graph API): the error envelope, throttle codes and ``paging.next``.

The token travels in the ``Authorization: Bearer`` header only, set by the request's auth so dlt's request log
never shows it. Meta answers most errors with HTTP 400 and ``{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}``; its throttles (codes 4, 17, 32, 613, 80000-80014) come as 400 or 403 as
often as 429, so they are retried by code whatever the status.

Its budget is reported on every answer: ``X-Business-Use-Case-Usage`` (per business, per use case: the shares of
call count, CPU time and total time used, and ``estimated_time_to_regain_access`` in minutes) and
``X-Ad-Account-Usage`` (``acc_id_util_pct``); over 90% is nearly spent, and a wait Meta asks for is made before
the next call (``pipelines.budget``).

The token's expiry comes from ``/debug_token``, which takes the token to inspect only as the ``input_token``
query parameter (Meta has no other way): that one call goes through the bare retrying session, never through
RESTClient (whose DEBUG request log prints URLs), urllib3's DEBUG line of its request is scrubbed of the
parameter (``InputTokenScrubber``), and no exception text that might quote the URL is kept. It is advisory: when
Meta refuses it (debug_token wants an app or app developer's token), the expiry stays unknown.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator

from pipelines.base import ConnectionTestResult, date_range_params
from pipelines.budget import Budget, BudgetReading
from pipelines.http import HeaderAuth, PlatformHTTP, is_retryable_status
from pipelines.meta_ads.credentials import MetaAdsCredentials
from pipelines.meta_ads.settings import (
    ACCOUNT_FIELDS,
    AUTH_ERROR_CODES,
    CAMPAIGN_FIELDS,
    DISPLAY_NAME,
    GRANTED,
    INSIGHT_FIELDS,
    INSIGHTS_LEVEL,
    PLATFORM,
    THROTTLE_CODES,
    TRANSIENT_CODES,
    USAGE_SHARES,
)
from tally.errors import PlatformError, PlatformRateLimited, PlatformResponseError, PlatformUnavailable
from tally.settings import Settings

REDACTED = "[redacted]"
INPUT_TOKEN = re.compile(r"(input_token=)[^&\s\"]+")
# Real tokens run to hundreds of characters; scrubbing a value shorter than this would only mangle the message.
SHORTEST_REDACTED = 8


@dataclass(frozen=True)
class AdAccount:
    """An ad account as its Graph API node describes it."""

    account_id: str
    name: str
    currency: str
    timezone: str
    status: int | None


def error_code(body: Any) -> int | None:
    """The Graph API error ``code`` of a JSON body, or None for a body without Meta's error envelope."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def read_error(response: requests.Response, body: Any) -> str | None:
    """Meta's own reason, ``"<message> (code N, subcode M)"``, or None for a body without an error."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    codes = ", ".join(
        f"{label} {error[key]}" for label, key in (("code", "code"), ("subcode", "error_subcode")) if key in error
    )
    message = error.get("message") or error.get("type") or "error"
    return f"{message} ({codes})" if codes else message


def is_auth_error(response: requests.Response, body: Any) -> bool:
    """A missing, invalid, expired or invalidated token (190, 102, 104), or one without the permission (10, 2xx)."""
    return error_code(body) in AUTH_ERROR_CODES or response.status_code == 401


def is_retryable(response: requests.Response, body: Any) -> bool:
    """A 429 or 5xx, or a Meta throttle or transient code under any status (Meta throttles with 400 too)."""
    return is_retryable_status(response, body) or error_code(body) in THROTTLE_CODES | TRANSIENT_CODES


def is_throttle(response: requests.Response, body: Any) -> bool:
    """A 429 or one of Meta's throttle codes, whatever the status."""
    return response.status_code == 429 or error_code(body) in THROTTLE_CODES


def usage_header(response: requests.Response, name: str) -> dict[str, Any]:
    """One of Meta's usage headers as the JSON object it holds (empty when absent or unreadable)."""
    try:
        value = json.loads(response.headers.get(name) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def read_budget(response: requests.Response, body: Any) -> BudgetReading | None:
    """The share of Meta's budget used, the highest of every use case's call count, CPU time and total time and
    the ad account's utilisation, with the wait Meta asks for (``estimated_time_to_regain_access``, minutes)."""
    business = usage_header(response, "x-business-use-case-usage")
    account = usage_header(response, "x-ad-account-usage")
    entries = [entry for listed in business.values() if isinstance(listed, list) for entry in listed]
    entries = [entry for entry in entries if isinstance(entry, dict)]
    if not entries and not account:
        return None
    shares = [float(entry.get(key) or 0) for entry in entries for key in USAGE_SHARES]
    if "acc_id_util_pct" in account:
        shares.append(float(account.get("acc_id_util_pct") or 0))
    regain_minutes = max((int(entry.get("estimated_time_to_regain_access") or 0) for entry in entries), default=0)
    detail = {
        **({"business_use_case_usage": entries} if entries else {}),
        **({"ad_account_usage": account} if account else {}),
    }
    return BudgetReading(
        source="x-business-use-case-usage" if entries else "x-ad-account-usage",
        used_pct=max(shares, default=None),
        detail=detail,
        wait_s=regain_minutes * 60.0 if regain_minutes else None,
        asked=f"estimated_time_to_regain_access {regain_minutes} min" if regain_minutes else None,
    )


class MetaHTTP(PlatformHTTP):
    """The shared HTTP layer, speaking Meta's error codes and keeping the token out of every reason it gives.

    A throttle that arrived with HTTP 400 is named a throttle once retries run out, not a bad request; and
    every reason is scrubbed of the credential values, should Meta ever echo one back in a message.
    """

    def __init__(self, settings: Settings, secrets: list[str], budget: Budget | None = None) -> None:
        super().__init__(
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
        self._secrets = [secret for secret in secrets if len(secret) >= SHORTEST_REDACTED]

    def error(self, kind: type[PlatformError], reason: str) -> PlatformError:
        """A domain error of Meta Ads whose reason holds no credential value."""
        for secret in self._secrets:
            reason = reason.replace(secret, REDACTED)
        return super().error(kind, reason)

    def raise_for(self, response: requests.Response, body: Any, reason: str | None) -> None:
        """Raise the domain error of a failed final response, naming throttles by their code."""
        code = error_code(body)
        if code in THROTTLE_CODES:
            raise self.error(PlatformRateLimited, f"rate limited after retries: {reason}")
        if code in TRANSIENT_CODES and response.status_code < 500:
            raise self.error(PlatformUnavailable, f"temporary failure after retries: {reason}")
        super().raise_for(response, body, reason)


def meta_http(settings: Settings, credentials: MetaAdsCredentials, budget: Budget | None = None) -> MetaHTTP:
    """The shared HTTP layer speaking Meta's errors for these credentials, reporting to ``budget``."""
    return MetaHTTP(settings, credentials.secret_values(), budget)


def api_base_url(settings: Settings) -> str:
    """The Graph API root of the configured host and version, ``.../v23.0/``."""
    return f"{settings.meta_ads_base_url.rstrip('/')}/{settings.meta_ads_api_version}/"


def api_client(http: MetaHTTP, credentials: MetaAdsCredentials) -> RESTClient:
    """A client of the Graph API; the token goes in the ``Authorization`` header of each request sent."""
    return http.client(
        api_base_url(http.settings),
        auth=HeaderAuth({"Authorization": f"Bearer {credentials.access_token.get_secret_value()}"}),
    )


class GraphNextPage(JSONLinkPaginator):
    """Follows ``paging.next`` until Meta leaves it out, with two guards on the URL Meta hands back.

    Meta echoes an ``access_token`` query parameter into ``paging.next`` when the first request carried one;
    it is dropped so a token never rides in a URL (ours is in the header). And a next page must be on the
    Graph API host we were configured with, since the request's auth would send the token wherever it points.
    """

    def __init__(self, http: MetaHTTP) -> None:
        super().__init__(next_url_path="paging.next")
        self._http = http
        self._origin = urlsplit(api_base_url(http.settings))[:2]

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        """Take the next page's URL from the body, without a token and only on our own host."""
        super().update_state(response, data)
        if not self._next_reference:
            return
        parts = urlsplit(self._next_reference)
        if parts.scheme and parts[:2] != self._origin:
            raise self._http.error(PlatformResponseError, "paging.next points at another host")
        query = [
            (name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "access_token"
        ]
        self._next_reference = urlunsplit(parts._replace(query=urlencode(query)))


def read_account(http: MetaHTTP, client: RESTClient, credentials: MetaAdsCredentials) -> AdAccount:
    """The ad account's name, currency and time zone (the zone its insights days are cut in)."""
    body = http.get_json(client, credentials.account_node, params={"fields": ",".join(ACCOUNT_FIELDS)})
    if not isinstance(body, dict) or not body.get("currency") or not body.get("timezone_name"):
        raise http.error(PlatformResponseError, "the ad account answered without currency or timezone_name")
    return AdAccount(
        account_id=str(body.get("account_id") or credentials.ad_account_id),
        name=body.get("name") or credentials.ad_account_id,
        currency=body["currency"],
        timezone=body["timezone_name"],
        status=body.get("account_status"),
    )


def read_scopes(http: MetaHTTP, client: RESTClient) -> list[str]:
    """The permissions the token's user or system user has granted (``ads_read`` is the one we need)."""
    body = http.get_json(client, "me/permissions")
    listed = body.get("data") if isinstance(body, dict) else None
    if not isinstance(listed, list):
        raise http.error(PlatformResponseError, "me/permissions answered without data")
    return [entry["permission"] for entry in listed if entry.get("status") == GRANTED and entry.get("permission")]


class InputTokenScrubber(logging.Filter):
    """Removes the ``input_token`` query parameter from urllib3's DEBUG request lines, which quote the URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "input_token=" in message:
            record.msg, record.args = INPUT_TOKEN.sub(rf"\1{REDACTED}", message), ()
        return True


def scrub_input_tokens() -> None:
    """Install the scrubber on urllib3's request logger once (a safety net of logging, not of behaviour)."""
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(existing, InputTokenScrubber) for existing in logger.filters):
        logger.addFilter(InputTokenScrubber())


def read_token_expiry(http: MetaHTTP, credentials: MetaAdsCredentials) -> datetime | None:
    """When the token stops working: the earlier of ``debug_token``'s ``expires_at`` and
    ``data_access_expires_at`` (0 is never), or None when neither is set or Meta will not say."""
    token = credentials.access_token.get_secret_value()
    scrub_input_tokens()
    try:
        with http.translate_errors():
            response = http.session.get(
                f"{api_base_url(http.settings)}debug_token",
                params={"input_token": token},
                auth=HeaderAuth({"Authorization": f"Bearer {token}"}),
                hooks=http.hooks,
                timeout=http.settings.http_timeout_seconds,
            )
            body = response.json()
    except PlatformError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    stamps = [data.get(key) for key in ("expires_at", "data_access_expires_at")] if isinstance(data, dict) else []
    moments = [int(stamp) for stamp in stamps if isinstance(stamp, int | float) and stamp > 0]
    return datetime.fromtimestamp(min(moments), UTC) if moments else None


def test_connection(
    credentials: MetaAdsCredentials, settings: Settings, budget: Budget | None = None
) -> ConnectionTestResult:
    """Read the ad account, the token's granted permissions and its expiry; Meta's refusal becomes the error."""
    http = meta_http(settings, credentials, budget)
    client = api_client(http, credentials)
    try:
        account = read_account(http, client, credentials)
        scopes = read_scopes(http, client)
    except PlatformError as exc:
        return ConnectionTestResult(success=False, error=exc.message)
    expires_at = read_token_expiry(http, credentials)
    return ConnectionTestResult(
        success=True,
        account_id=account.account_id,
        display_name=account.name,
        currency=account.currency,
        timezone=account.timezone,
        scopes=scopes,
        token_expires_at=expires_at,
    )


def insights_pages(
    http: MetaHTTP, client: RESTClient, account_node: str, window: tuple[date, date], page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Every campaign-day insights row of the account's local days in ``window``, page by page.

    No action breakdowns or attribution windows are asked for: both change what ``actions`` counts.
    """
    since, until = date_range_params(*window)
    params = {
        "level": INSIGHTS_LEVEL,
        "time_increment": 1,
        "time_range": json.dumps({"since": since, "until": until}, separators=(",", ":")),
        "fields": ",".join(INSIGHT_FIELDS),
        "limit": page_size,
    }
    with http.translate_errors():
        yield from client.paginate(
            f"{account_node}/insights",
            params=params,
            paginator=GraphNextPage(http),
            data_selector="data",
            hooks=http.hooks,
        )


def campaign_pages(
    http: MetaHTTP, client: RESTClient, account_node: str, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Every campaign of the ad account, page by page."""
    params = {"fields": ",".join(CAMPAIGN_FIELDS), "limit": page_size}
    with http.translate_errors():
        yield from client.paginate(
            f"{account_node}/campaigns",
            params=params,
            paginator=GraphNextPage(http),
            data_selector="data",
            hooks=http.hooks,
        )
