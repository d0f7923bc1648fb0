"""Google's OAuth token exchange for the Google Ads and GA4 connectors, done by ``google-auth``.

Two grants against ``{TALLY_GOOGLE_OAUTH_BASE_URL}/token``, google-auth's ``token_uri`` (so tests and the demo
reach the emulator): a refresh token with the OAuth client's id and secret, or a service account's assertion that
google-auth signs with its private key. google-auth builds the grant and reads the answer; the HTTP goes through
the platform's retrying session, whose response hook raises a refusal as ``PlatformAuthError`` with Google's own
reason before google-auth sees it, so every failure is one of our domain errors and none quotes a secret.

The grant's answer also says what the credential is good for: ``scope`` (the scopes granted, which may be fewer
than asked for) and, for a refresh token granted for a limited time, ``refresh_token_expires_in`` (seconds), which
google-auth does not keep: a response hook reads it. An access token's own hour does not count as the
credential's expiry: every load and test gets a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    """A short-lived bearer token, what it was granted for, and when the refresh token behind it stops working
    (None when it does not expire, as Google's refresh tokens do not unless granted for a limited time)."""

    token: str
    scopes: list[str]
    expires_in: int
    credential_expires_at: datetime | None = None


class GrantAnswer:
    """A response hook keeping what google-auth drops of the token endpoint's answer."""

    def __init__(self) -> None:
        self.refresh_token_expires_in: int | None = None
        self.scope: str | None = None

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        try:
            body = response.json()
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        seconds = body.get("refresh_token_expires_in")
        if isinstance(seconds, int | float) and seconds > 0:
            self.refresh_token_expires_in = int(seconds)
        if isinstance(body.get("scope"), str):
            self.scope = body["scope"]

    def granted(self, asked: str) -> list[str]:
        """The scopes the answer says were granted; the one asked for when it says nothing."""
        return self.scope.split() if self.scope is not None else [asked]

    def expires_at(self) -> datetime | None:
        """When the refresh token expires, from the answer's ``refresh_token_expires_in``."""
        seconds = self.refresh_token_expires_in
        return datetime.now(UTC) + timedelta(seconds=seconds) if seconds else None


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
    answer = _refresh(http, credentials)
    return _access_token(credentials, answer.granted(scope), answer.expires_at())


def service_account_access_token(http: PlatformHTTP, service_account_info: dict[str, Any], scope: str) -> AccessToken:
    """Exchange a service account's signed assertion for an access token."""
    # The key file's own token_uri names Google's endpoint; the configured one wins, as for the refresh grant.
    # It goes in the info: from_service_account_info also passes the info's token_uri, so a keyword would clash.
    credentials = service_account.Credentials.from_service_account_info(
        {**service_account_info, "token_uri": token_uri(http)}, scopes=[scope]
    )
    answer = _refresh(http, credentials)
    return _access_token(credentials, answer.granted(scope), answer.expires_at())


def _refresh(http: PlatformHTTP, credentials: GoogleCredentials) -> GrantAnswer:
    """Run the grant on the platform's retrying session, its failures raised as domain errors; what google-auth
    does not keep of the answer is returned."""
    oauth = PlatformHTTP(
        http.platform, http.display_name, http.settings, read_oauth_error, is_oauth_auth_error, budget=http.budget
    )
    answer = GrantAnswer()
    hooks = {"response": [*oauth.hooks["response"], answer]}
    # No RESTClient here: dlt's DEBUG request log would print the form, secrets and all.
    request = partial(Request(oauth.session), timeout=http.settings.http_timeout_seconds, hooks=hooks)
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
    return answer


def _access_token(
    credentials: GoogleCredentials, scopes: list[str], credential_expires_at: datetime | None
) -> AccessToken:
    """What a refreshed credential holds, in the shape the connectors use."""
    expires_in = 0
    if credentials.expiry is not None:
        # google-auth keeps expiry as a naive UTC datetime.
        expires_in = round((credentials.expiry.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds())
    return AccessToken(credentials.token, list(scopes), max(expires_in, 0), credential_expires_at)
