"""Google's OAuth token exchange for the Google Ads and GA4 connectors, done by ``google-auth``.

Two grants against ``{TALLY_GOOGLE_OAUTH_BASE_URL}/token``, google-auth's ``token_uri`` (so tests and the demo
reach the emulator): a refresh token with the OAuth client's id and secret, or a service account's assertion that
google-auth signs with its private key. google-auth builds the grant and reads the answer; the HTTP goes through
the platform's retrying session, whose response hook raises a refusal as ``PlatformAuthError`` with Google's own
reason before google-auth sees it, so every failure is one of our domain errors and none quotes a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import requests
from google.auth import exceptions as google_errors
from google.auth.credentials import Credentials as GoogleCredentials
from google.auth.transport.requests import Request
from google.oauth2 import credentials as oauth_credentials
from google.oauth2 import service_account

from pipelines.http import PlatformHTTP
from tally.errors import PlatformAuthError, PlatformResponseError, PlatformUnavailable


@dataclass(frozen=True)
class AccessToken:
    """A short-lived bearer token and what it was granted for."""

    token: str
    scopes: list[str]
    expires_in: int


def read_oauth_error(response: requests.Response, body: Any) -> str | None:
    """The token endpoint's own reason for refusing a grant."""
    if response.ok:
        return None
    if isinstance(body, dict) and "error" in body:
        return f"{body.get('error')}: {body.get('error_description', '')}".strip(": ")
    return None


def is_oauth_auth_error(response: requests.Response, body: Any) -> bool:
    """400/401 from the token endpoint means the grant itself is bad."""
    return response.status_code in (400, 401)


def token_uri(http: PlatformHTTP) -> str:
    """The token endpoint at the configured host: Google's, or the emulator's."""
    return f"{http.settings.google_oauth_base_url.rstrip('/')}/token"


def refresh_access_token(
    http: PlatformHTTP, client_id: str, client_secret: str, refresh_token: str, scope: str
) -> AccessToken:
    """Exchange an OAuth refresh token for an access token limited to ``scope``."""
    credentials = oauth_credentials.Credentials(
        token=None,
        refresh_token=refresh_token,
        token_uri=token_uri(http),
        client_id=client_id,
        client_secret=client_secret,
        scopes=[scope],
    )
    _refresh(http, credentials)
    return _access_token(credentials, credentials.granted_scopes or [scope])


def service_account_access_token(http: PlatformHTTP, service_account_info: dict[str, Any], scope: str) -> AccessToken:
    """Exchange a service account's signed assertion for an access token."""
    # The key file's own token_uri names Google's endpoint; the configured one wins, as for the refresh grant.
    # It goes in the info: from_service_account_info also passes the info's token_uri, so a keyword would clash.
    credentials = service_account.Credentials.from_service_account_info(
        {**service_account_info, "token_uri": token_uri(http)}, scopes=[scope]
    )
    _refresh(http, credentials)
    return _access_token(credentials, [scope])


def _refresh(http: PlatformHTTP, credentials: GoogleCredentials) -> None:
    """Run the grant on the platform's retrying session, its failures raised as domain errors."""
    oauth = PlatformHTTP(http.platform, http.display_name, http.settings, read_oauth_error, is_oauth_auth_error)
    # No RESTClient here: dlt's DEBUG request log would print the form, secrets and all.
    request = partial(Request(oauth.session), timeout=http.settings.http_timeout_seconds, hooks=oauth.hooks)
    try:
        with oauth.translate_errors():
            try:
                credentials.refresh(request)
            except google_errors.TransportError as exc:
                # google-auth wraps requests' own error (a timeout, or retries used up); translate_errors reads it.
                if isinstance(exc.__cause__, requests.RequestException):
                    raise exc.__cause__ from None
                raise oauth.error(PlatformUnavailable, "could not reach Google's token endpoint") from None
            except google_errors.RefreshError:
                # Refusals were raised by the hook already: what is left is a 200 without an access token.
                raise oauth.error(PlatformResponseError, "Google's token endpoint answered without a token") from None
    except PlatformAuthError as exc:
        raise http.error(PlatformAuthError, f"Google refused the credentials ({exc.reason})") from None


def _access_token(credentials: GoogleCredentials, scopes: list[str]) -> AccessToken:
    """What a refreshed credential holds, in the shape the connectors use."""
    expires_in = 0
    if credentials.expiry is not None:
        # google-auth keeps expiry as a naive UTC datetime.
        expires_in = round((credentials.expiry.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds())
    return AccessToken(credentials.token, list(scopes), max(expires_in, 0))
