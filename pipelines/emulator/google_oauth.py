"""Google's OAuth 2.0 token endpoint (``POST /token``), as Google Ads and GA4 clients call it.

Grants: ``refresh_token`` (client id, secret and refresh token) and the service account's
``urn:ietf:params:oauth:grant-type:jwt-bearer`` (a signed assertion). A refresh token or a service account
key id starting with ``expired`` or ``revoked`` gets Google's ``invalid_grant``.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import jwt
from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse

router = APIRouter(tags=["google oauth"])

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"


def _invalid_grant(description: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_grant", "error_description": description}, status_code=400)


def _token(seed: str, scope: str) -> JSONResponse:
    """A bearer access token derived from the grant, so the same grant gets the same token."""
    digest = hashlib.sha256(seed.encode()).hexdigest()[:24]
    return JSONResponse({"access_token": f"ya29.{digest}", "expires_in": 3599, "scope": scope, "token_type": "Bearer"})


@router.post("/token")
def token(
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    assertion: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """Exchange a refresh token or a signed service-account assertion for an access token."""
    if grant_type == "refresh_token":
        if not (client_id and client_secret and refresh_token):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Missing required parameter: refresh_token"},
                status_code=400,
            )
        if refresh_token.startswith(("expired", "revoked")):
            return _invalid_grant("Token has been expired or revoked.")
        return _token(refresh_token, scope or ADWORDS_SCOPE)
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
        return _token(f"{claims['iss']}|{claims['scope']}", claims["scope"])
    return JSONResponse(
        {"error": "unsupported_grant_type", "error_description": f"Invalid grant_type: {grant_type}"},
        status_code=400,
    )
