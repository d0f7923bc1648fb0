"""FastAPI dependencies: settings, the app database, the vault, the caller and their reach.

Dependencies that do not block are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, and
each such hop costs more than the work of reading app state or checking a token. Only the app database, which
blocks, stays a ``def``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal
from api.verified_tokens import VerifiedTokens
from assistant.model import LanguageModel
from tally.errors import AuthenticationFailed, NotFound, PermissionDenied
from tally.settings import Settings
from warehouse.vault import CredentialVault

# Error answers every company-scoped route documents in OpenAPI, beside its own.
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, malformed, badly signed or expired token"},
    403: {"description": "The token lacks the route's permission"},
    404: {"description": "Company or connection not found"},
}
COMPANY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
bearer = HTTPBearer(auto_error=False, description="JWT with sub, permissions, companies and exp")


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


async def get_vault(request: Request) -> CredentialVault:
    """The credential vault the app was created with."""
    return request.app.state.vault


async def get_language_model(request: Request) -> LanguageModel | None:
    """The language model the app was created with, or None when none is configured."""
    return request.app.state.language_model


async def get_app_engine(request: Request) -> sa.Engine:
    """The app database engine, for routes that must not hold one transaction for the whole request."""
    return request.app.state.engine


def get_db(request: Request) -> Iterator[sa.Connection]:
    """One app-database transaction per request: committed on success, rolled back on any error."""
    with request.app.state.engine.begin() as db:
        yield db


async def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The verified caller; 401 without a valid bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("Not authenticated")
    tokens: VerifiedTokens = request.app.state.verified_tokens
    return tokens.principal(credentials.credentials)


SettingsDep = Annotated[Settings, Depends(get_settings)]
VaultDep = Annotated[CredentialVault, Depends(get_vault)]
LanguageModelDep = Annotated[LanguageModel | None, Depends(get_language_model)]
# Committed before the response is sent, so a caller never reads its own write half-done.
Db = Annotated[sa.Connection, Depends(get_db, scope="function")]
AppEngine = Annotated[sa.Engine, Depends(get_app_engine)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def company_access(permission: str) -> Callable[[Principal, str], Awaitable[str]]:
    """A dependency that yields the path's company id once the caller may act on it with ``permission``.

    Order matters: 401 (no valid token) before 403 (missing permission) before 404 (company out of reach,
    answered as not found so its existence is not revealed).
    """

    async def dependency(principal: CurrentPrincipal, company_id: Annotated[str, Path(alias="companyId")]) -> str:
        check_company_access(principal, permission, company_id)
        return company_id

    return dependency


def check_company_access(principal: Principal, permission: str, company_id: str) -> None:
    """403 without ``permission``, then 404 for a company id that is malformed or out of the caller's reach."""
    if permission not in principal.permissions:
        raise PermissionDenied(f"Missing permission: {permission}")
    if not COMPANY_ID.match(company_id) or not principal.can_reach(company_id):
        raise NotFound("Company not found")


ViewCompany = Annotated[str, Depends(company_access("clients:view"))]
UpdateCompany = Annotated[str, Depends(company_access("clients:update"))]
