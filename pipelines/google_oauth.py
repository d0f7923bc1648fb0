"""Google's OAuth token exchange, shared by the Google Ads and GA4 connectors.

Two grants, both done for real against ``{TALLY_GOOGLE_OAUTH_BASE_URL}/token``: a refresh token with the
OAuth client's id and secret, or a service account's assertion signed with its private key (RS256).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from pipelines.http import PlatformHTTP
from tally.errors import PlatformAuthError

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


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


def _exchange(http: PlatformHTTP, form: dict[str, str]) -> AccessToken:
    """POST a grant to the token endpoint, reading its errors in the token endpoint's own shape."""
    oauth = PlatformHTTP(http.platform, http.display_name, http.settings, read_oauth_error, is_oauth_auth_error)
    url = f"{http.settings.google_oauth_base_url.rstrip('/')}/token"
    try:
        # The bare session, not a RESTClient: dlt's DEBUG request log would print the form, secrets and all.
        with oauth.translate_errors():
            body = oauth.session.post(
                url, data=form, timeout=http.settings.http_timeout_seconds, hooks=oauth.hooks
            ).json()
    except PlatformAuthError as exc:
        raise http.error(PlatformAuthError, f"Google refused the credentials ({exc.reason})") from None
    return AccessToken(body["access_token"], body.get("scope", "").split(), int(body.get("expires_in", 0)))


def refresh_access_token(http: PlatformHTTP, client_id: str, client_secret: str, refresh_token: str) -> AccessToken:
    """Exchange an OAuth refresh token for an access token."""
    return _exchange(
        http,
        {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        },
    )


def service_account_access_token(http: PlatformHTTP, service_account: dict[str, Any], scope: str) -> AccessToken:
    """Exchange a service account's signed assertion for an access token."""
    now = int(time.time())
    token_uri = f"{http.settings.google_oauth_base_url.rstrip('/')}/token"
    assertion = jwt.encode(
        {
            "iss": service_account["client_email"],
            "scope": scope,
            "aud": service_account.get("token_uri", token_uri),
            "iat": now,
            "exp": now + 3600,
        },
        service_account["private_key"],
        algorithm="RS256",
        headers={"kid": service_account.get("private_key_id", "")},
    )
    return _exchange(http, {"grant_type": JWT_BEARER, "assertion": assertion})
