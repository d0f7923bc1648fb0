"""HTTP details of GA4: a Google bearer token, the Admin API's property, and the Data API's ``runReport`` pages.

The access token comes from Google's token endpoint (a service account's signed assertion or an OAuth refresh
token, ``pipelines.google_oauth``) and travels in the ``Authorization`` header only, set by the request's auth so
dlt's request log never shows it. Errors come in Google's envelope ``{"error": {"code", "message", "status"}}``;
429 (``RESOURCE_EXHAUSTED``, property token quotas) and 5xx are retried by dlt's session, honouring Retry-After.
Each report asks for ``returnPropertyQuota``: its ``propertyQuota`` (tokens per day and per hour, consumed and
remaining) is GA4's reading of the property's budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import OffsetPaginator

from pipelines.base import ConnectionTestResult
from pipelines.budget import Budget, BudgetReading
from pipelines.ga4.credentials import GA4Credentials
from pipelines.ga4.settings import (
    API_VERSION,
    AUTH_ERROR_STATUSES,
    DISPLAY_NAME,
    PLATFORM,
    QUOTA_SHARES,
    REPORT_DIMENSIONS,
    REPORT_METRICS,
    SCOPE,
)
from pipelines.google_oauth import AccessToken, refresh_access_token, service_account_access_token
from pipelines.http import HeaderAuth, PlatformHTTP
from tally.errors import PlatformError, PlatformResponseError
from tally.settings import Settings


@dataclass(frozen=True)
class Property:
    """A GA4 property as the Admin API describes it."""

    account_id: str
    name: str
    currency: str
    timezone: str


def google_error(body: Any) -> dict[str, Any] | None:
    """The ``error`` object of Google's error envelope, or None for a body without one."""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def read_error(response: requests.Response, body: Any) -> str | None:
    """Google's own reason, ``"<message> (<STATUS>)"``, for a failed response; None when it succeeded."""
    if response.ok:
        return None
    error = google_error(body)
    if error is None:
        return None
    return f"{error.get('message') or 'error'} ({error.get('status') or error.get('code')})"


def is_auth_error(response: requests.Response, body: Any) -> bool:
    """A wrong, expired or revoked token, or credentials the property was not shared with."""
    error = google_error(body) or {}
    return response.status_code in (401, 403) or error.get("status") in AUTH_ERROR_STATUSES


def read_budget(response: requests.Response, body: Any) -> BudgetReading | None:
    """A report's ``propertyQuota`` as a reading: the larger share used of the daily and hourly tokens."""
    quota = body.get("propertyQuota") if isinstance(body, dict) else None
    if not isinstance(quota, dict):
        return None
    shares = {name: _share_used(quota.get(name)) for name in QUOTA_SHARES}
    used = [share for share in shares.values() if share is not None]
    if not used:
        return None
    source = max((name for name, share in shares.items() if share is not None), key=lambda name: shares[name] or 0)
    return BudgetReading(source=f"propertyQuota.{source}", used_pct=max(used), detail=quota)


def _share_used(entry: Any) -> float | None:
    """The percentage of one quota consumed, from its ``consumed`` and ``remaining``."""
    if not isinstance(entry, dict):
        return None
    consumed, remaining = entry.get("consumed") or 0, entry.get("remaining") or 0
    total = consumed + remaining
    return 100.0 * consumed / total if total else None


def ga4_http(settings: Settings, budget: Budget | None = None) -> PlatformHTTP:
    """The shared HTTP layer speaking Google's errors, reporting to ``budget``."""
    return PlatformHTTP(
        PLATFORM, DISPLAY_NAME, settings, read_error, is_auth_error, read_budget=read_budget, budget=budget
    )


def access_token(http: PlatformHTTP, credentials: GA4Credentials) -> AccessToken:
    """A read-only Analytics token from the service account's key, or else from the OAuth refresh token."""
    service_account = credentials.service_account()
    if service_account is not None:
        return service_account_access_token(http, service_account, SCOPE)
    return refresh_access_token(http, *credentials.oauth_grant(), SCOPE)


def bearer(token: AccessToken) -> HeaderAuth:
    """The token as request auth, so it stays out of dlt's request log."""
    return HeaderAuth({"Authorization": f"Bearer {token.token}"})


def admin_client(http: PlatformHTTP, token: AccessToken) -> RESTClient:
    """A client of the Admin API at the configured host."""
    return http.client(f"{http.settings.ga4_admin_base_url}/{API_VERSION}/", auth=bearer(token))


def data_client(http: PlatformHTTP, token: AccessToken) -> RESTClient:
    """A client of the Data API at the configured host."""
    return http.client(f"{http.settings.ga4_base_url}/{API_VERSION}/", auth=bearer(token))


def read_property(http: PlatformHTTP, client: RESTClient, property_id: str) -> Property:
    """The property's display name, currency and time zone (its days are days of that zone)."""
    body = http.get_json(client, f"properties/{property_id}")
    try:
        return Property(property_id, body.get("displayName") or property_id, body["currencyCode"], body["timeZone"])
    except (KeyError, AttributeError, TypeError):
        raise http.error(PlatformResponseError, "the Admin API answered without currencyCode and timeZone") from None


def test_connection(
    credentials: GA4Credentials, settings: Settings, budget: Budget | None = None
) -> ConnectionTestResult:
    """Get a token and read the property; Google's refusal becomes the result's error."""
    http = ga4_http(settings, budget)
    try:
        token = access_token(http, credentials)
        found = read_property(http, admin_client(http, token), credentials.property_id)
    except PlatformError as exc:
        return ConnectionTestResult(success=False, error=exc.message)
    return ConnectionTestResult(
        success=True,
        account_id=found.account_id,
        display_name=found.name,
        currency=found.currency,
        timezone=found.timezone,
        scopes=token.scopes,
        token_expires_at=token.credential_expires_at,
    )


class RowOffsetPaginator(OffsetPaginator):
    """GA4's ``offset``/``limit`` in the JSON body, read until ``rowCount``.

    GA4 may serve fewer rows than the ``limit`` asked for (it caps a page at 250,000 rows), so the next offset
    moves on by the rows received, not by the limit; a page without ``rows`` ends the report.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(limit=limit, offset_body_path="offset", limit_body_path="limit", total_path="rowCount")

    def update_state(self, response: requests.Response, data: list[Any] | None = None) -> None:
        """Advance the offset by the rows this page held."""
        self.value_step = len(data or [])
        super().update_state(response, data)


def report_request(start_date: date, end_date: date) -> dict[str, Any]:
    """The runReport body of our daily traffic report; the paginator adds ``offset`` and ``limit``."""
    return {
        "dateRanges": [{"startDate": start_date.isoformat(), "endDate": end_date.isoformat()}],
        "dimensions": [{"name": name} for name in REPORT_DIMENSIONS],
        "metrics": [{"name": name} for name in REPORT_METRICS],
        "keepEmptyRows": False,
        "returnPropertyQuota": True,
    }


def report_pages(
    http: PlatformHTTP, client: RESTClient, property_id: str, start_date: date, end_date: date, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """Every row of the daily traffic report over the range, page by page."""
    with http.translate_errors():
        yield from client.paginate(
            f"properties/{property_id}:runReport",
            method="POST",
            json=report_request(start_date, end_date),
            paginator=RowOffsetPaginator(page_size),
            data_selector="rows",
            hooks=http.hooks,
        )
