"""Google's OAuth 2.0 token endpoint (``POST /token``), as Google Ads and GA4 clients call it.

Grants: ``refresh_token`` (client id, secret and refresh token) and the service account's
``urn:ietf:params:oauth:grant-type:jwt-bearer`` (a signed assertion). A refresh token or a service account
key id starting with ``expired`` or ``revoked`` gets Google's ``invalid_grant``.

The answer's ``scope`` is the scope asked for, less any the fault plan of ``google_oauth`` and the OAuth client id
(or the service account's email) names in ``missing_scopes``; with ``token_expires_in_days`` set, a refresh grant's
answer carries ``refresh_token_expires_in``, as Google's does for access granted for a limited time.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import jwt
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from pipelines.emulator.faults import EmulatorState, FaultPlan

router = APIRouter(tags=["google oauth"])

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
PLATFORM = "google_oauth"
SECONDS_PER_DAY = 86_400


def _invalid_grant(description: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_grant", "error_description": description}, status_code=400)


def _token(seed: str, scope: str, plan: FaultPlan, refresh: bool) -> JSONResponse:
    """A bearer access token derived from the grant, so the same grant gets the same token; the scopes granted
    and, for a refresh token granted for a limited time, its remaining lifetime."""
    digest = hashlib.sha256(seed.encode()).hexdigest()[:24]
    granted = " ".join(name for name in scope.split() if name not in plan.missing_scopes)
    body: dict[str, object] = {"access_token": f"ya29.{digest}", "expires_in": 3599, "scope": granted}
    if refresh and plan.token_expires_in_days is not None:
        body["refresh_token_expires_in"] = max(0, round(plan.token_expires_in_days * SECONDS_PER_DAY))
    return JSONResponse({**body, "token_type": "Bearer"})


@router.post("/token")
def token(
    request: Request,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    assertion: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """Exchange a refresh token or a signed service-account assertion for an access token."""
    state: EmulatorState = request.app.state.emulator
    if grant_type == "refresh_token":
        if not (client_id and client_secret and refresh_token):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Missing required parameter: refresh_token"},
                status_code=400,
            )
        if refresh_token.startswith(("expired", "revoked")):
            return _invalid_grant("Token has been expired or revoked.")
        return _token(refresh_token, scope or ADWORDS_SCOPE, state.plan(PLATFORM, client_id), refresh=True)
    if grant_type == JWT_BEARER and assertion:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False, "verify_aud": False})
        except jwt.PyJWTError:
            return _invalid_grant("Invalid JWT Signature.")
        if header.get("alg") != "RS256" or not {"iss", "scope", "aud", "exp", "iat"} <= claims.keys():
            return _invalid_grant("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
        if str(header.get("kid", "")).startswith(("expired", "revoked")):
            return _invalid_grant("Invalid JWT Signature.")
        plan = state.plan(PLATFORM, str(claims["iss"]))
        return _token(f"{claims['iss']}|{claims['scope']}", claims["scope"], plan, refresh=False)
    return JSONResponse(
        {"error": "unsupported_grant_type", "error_description": f"Invalid grant_type: {grant_type}"},
        status_code=400,
    )
