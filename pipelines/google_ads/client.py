"""HTTP details of the Google Ads API (REST): GAQL over ``googleAds:search``, its page tokens and its errors.

The access token comes from Google's token endpoint (``pipelines.google_oauth``, an OAuth refresh token) and
travels with the developer token (and the manager's ``login-customer-id``) in headers set by the request's
auth, so dlt's request log never shows them. ``googleAds:search`` serves fixed pages of 10,000 rows: the next
page is asked for by sending ``nextPageToken`` back as ``pageToken`` in the JSON body with the same query, and
``pageSize`` must never be sent. Errors come in Google's envelope whose ``details`` hold a ``GoogleAdsFailure``
(``{"errors": [{"errorCode": {"authenticationError": "OAUTH_TOKEN_EXPIRED"}, "message": ...}]}``); quota errors
are HTTP 429 ``RESOURCE_EXHAUSTED`` and, like 5xx, are retried by dlt's session, after the ``retryDelay`` of the
failure's ``quotaErrorDetails`` (a protobuf Duration, ``"30s"``) when ``Retry-After`` is absent. Google Ads says
nothing of its budget until it is spent, so a quota error is the only budget reading it gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from pipelines.base import ConnectionTestResult, date_range_params
from pipelines.budget import Budget, BudgetReading
from pipelines.google_ads.credentials import GoogleAdsCredentials
from pipelines.google_ads.settings import (
    AUTH_ERROR_KINDS,
    AUTH_REQUEST_ERRORS,
    CUSTOMER_FIELDS,
    DISPLAY_NAME,
    PLATFORM,
    SCOPE,
    SEARCH_PATH,
)
from pipelines.google_oauth import AccessToken, refresh_access_token
from pipelines.http import HeaderAuth, PlatformHTTP
from tally.errors import PlatformError, PlatformResponseError
from tally.settings import Settings

FAILURE_TYPE = "errors.GoogleAdsFailure"
REDACTED = "[redacted]"
# Real tokens and secrets are long; scrubbing a value of a few characters would garble every message instead.
MIN_SECRET_LENGTH = 8
DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s\s*$")


@dataclass(frozen=True)
class Customer:
    """A Google Ads customer (ad account) as the ``customer`` resource describes it."""

    account_id: str
    name: str
    currency: str
    timezone: str


def failure_errors(body: Any) -> list[dict[str, Any]]:
    """The ``errors`` of the ``GoogleAdsFailure`` in Google's error envelope; empty when there is none."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith(FAILURE_TYPE):
            return [entry for entry in detail.get("errors") or [] if isinstance(entry, dict)]
    return []


def error_codes(body: Any) -> list[tuple[str, str]]:
    """Each failure's error code as (kind, code), e.g. ``("authenticationError", "OAUTH_TOKEN_EXPIRED")``."""
    return [
        (kind, str(code)) for entry in failure_errors(body) for kind, code in (entry.get("errorCode") or {}).items()
    ]


def read_error(response: requests.Response, body: Any) -> str | None:
    """Google's own reason: each failure's ``"<message> (<CODE>)"``, else the envelope's ``"<message> (<STATUS>)"``."""
    if response.ok:
        return None
    reasons = [
        f"{entry.get('message') or 'error'} ({', '.join(map(str, (entry.get('errorCode') or {}).values()))})"
        for entry in failure_errors(body)
    ]
    if reasons:
        return "; ".join(reasons)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return f"{error.get('message') or 'error'} ({error.get('status') or error.get('code')})"


def is_auth_error(response: requests.Response, body: Any) -> bool:
    """A wrong, expired or revoked token, a developer token or manager id Google refuses, or no access."""
    return response.status_code in (401, 403) or any(
        kind in AUTH_ERROR_KINDS or code in AUTH_REQUEST_ERRORS for kind, code in error_codes(body)
    )


def quota_details(body: Any) -> dict[str, Any] | None:
    """The ``quotaErrorDetails`` of a quota failure (``rateScope``, ``rateName``, ``retryDelay``), if any."""
    for entry in failure_errors(body):
        details = entry.get("details")
        quota = details.get("quotaErrorDetails") if isinstance(details, dict) else None
        if isinstance(quota, dict):
            return quota
    return None


def read_budget(response: requests.Response, body: Any) -> BudgetReading | None:
    """A quota error as a reading of a spent budget, with the wait its ``retryDelay`` asks for."""
    framed = body[0] if isinstance(body, list) and body else body
    quota_errors = [code for kind, code in error_codes(framed) if kind == "quotaError"]
    if response.status_code != 429 and not quota_errors:
        return None
    quota = quota_details(framed) or {}
    delay = DURATION.match(str(quota.get("retryDelay", "")))
    return BudgetReading(
        source="quotaError",
        used_pct=100.0,
        detail={"quota_error": quota_errors[0] if quota_errors else "RESOURCE_EXHAUSTED", **quota},
        wait_s=float(delay.group(1)) if delay else None,
        asked=f"retryDelay {quota['retryDelay']}" if delay else None,
    )


class GoogleAdsHTTP(PlatformHTTP):
    """The shared HTTP layer speaking Google Ads' errors, keeping every credential value out of its reasons.

    Google Ads once quoted the developer token in ``DEVELOPER_TOKEN_PROHIBITED`` messages; a reason is scrubbed
    of the credentials' secrets before it becomes an error, should that ever come back.
    """

    def __init__(self, settings: Settings, secrets: list[str], budget: Budget | None = None) -> None:
        super().__init__(
            PLATFORM, DISPLAY_NAME, settings, read_error, is_auth_error, read_budget=read_budget, budget=budget
        )
        self._secrets = [secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH]

    def error(self, kind: type[PlatformError], reason: str) -> PlatformError:
        """A domain error of Google Ads whose reason holds no credential value."""
        for secret in self._secrets:
            reason = reason.replace(secret, REDACTED)
        return super().error(kind, reason)


def google_ads_http(
    settings: Settings, credentials: GoogleAdsCredentials, budget: Budget | None = None
) -> GoogleAdsHTTP:
    """The shared HTTP layer speaking Google Ads' errors for these credentials, reporting to ``budget``."""
    return GoogleAdsHTTP(settings, credentials.secret_values(), budget)


def access_token(http: GoogleAdsHTTP, credentials: GoogleAdsCredentials) -> AccessToken:
    """An access token from the refresh token; a refused grant is an auth error naming Google Ads."""
    return refresh_access_token(http, *credentials.oauth_grant(), SCOPE)


def request_auth(credentials: GoogleAdsCredentials, token: AccessToken) -> HeaderAuth:
    """The headers every call carries, as request auth so they stay out of dlt's request log."""
    headers = {
        "Authorization": f"Bearer {token.token}",
        "developer-token": credentials.developer_token.get_secret_value(),
    }
    if credentials.login_customer_id:
        headers["login-customer-id"] = credentials.login_customer_id
    return HeaderAuth(headers)


def api_client(http: GoogleAdsHTTP, credentials: GoogleAdsCredentials, token: AccessToken) -> RESTClient:
    """A client of the configured host and API version, ``.../v21/``."""
    base_url = f"{http.settings.google_ads_base_url.rstrip('/')}/{http.settings.google_ads_api_version}/"
    return http.client(base_url, auth=request_auth(credentials, token))


def gaql(fields: list[str], resource: str, where: str | None = None) -> str:
    """A GAQL query of fields from our own constants (never caller input) on one resource."""
    query = f"SELECT {', '.join(fields)} FROM {resource}"
    return f"{query} WHERE {where}" if where else query


def between(start_date: date, end_date: date) -> str:
    """The GAQL filter on the account-local days start_date..end_date: explicit dates, not ``DURING``."""
    since, until = date_range_params(start_date, end_date)
    return f"segments.date BETWEEN '{since}' AND '{until}'"


def search_pages(
    http: GoogleAdsHTTP, client: RESTClient, customer_id: str, query: str
) -> Iterator[list[dict[str, Any]]]:
    """Every result row of a GAQL query, page by page (``nextPageToken`` sent back as ``pageToken``)."""
    with http.translate_errors():
        yield from client.paginate(
            SEARCH_PATH.format(customer_id=customer_id),
            method="POST",
            json={"query": query},
            paginator=JSONResponseCursorPaginator(cursor_path="nextPageToken", cursor_body_path="pageToken"),
            data_selector="results",
            hooks=http.hooks,
        )


def read_customer(http: GoogleAdsHTTP, client: RESTClient, customer_id: str) -> Customer:
    """The customer's name, currency and time zone (the zone its ``segments.date`` days are cut in)."""
    body = http.post_json(
        client, SEARCH_PATH.format(customer_id=customer_id), json={"query": gaql(list(CUSTOMER_FIELDS), "customer")}
    )
    results = body.get("results") if isinstance(body, dict) else None
    customer = results[0].get("customer") if isinstance(results, list) and results else None
    if not isinstance(customer, dict) or not customer.get("currencyCode") or not customer.get("timeZone"):
        raise http.error(PlatformResponseError, "the customer query answered without currencyCode and timeZone")
    return Customer(
        account_id=str(customer.get("id") or customer_id),
        name=customer.get("descriptiveName") or customer_id,
        currency=customer["currencyCode"],
        timezone=customer["timeZone"],
    )


def test_connection(
    credentials: GoogleAdsCredentials, settings: Settings, budget: Budget | None = None
) -> ConnectionTestResult:
    """Get an access token and read the customer; Google's refusal becomes the result's error."""
    http = google_ads_http(settings, credentials, budget)
    try:
        token = access_token(http, credentials)
        customer = read_customer(http, api_client(http, credentials, token), credentials.customer_id)
    except PlatformError as exc:
        return ConnectionTestResult(success=False, error=exc.message)
    return ConnectionTestResult(
        success=True,
        account_id=customer.account_id,
        display_name=customer.name,
        currency=customer.currency,
        timezone=customer.timezone,
        scopes=token.scopes,
        token_expires_at=token.credential_expires_at,
    )
