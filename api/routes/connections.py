"""Client connections: list, create (tested and encrypted), rename, disconnect and health-check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AUTH_ERRORS, AppEngine, CurrentPrincipal, Db, SettingsDep, UpdateCompany, VaultDep, ViewCompany
from api.fields import DisplayName, UtcDateTime
from pipelines.base import ConnectionTestResult, PlatformSpec
from pipelines.budget import Budget
from pipelines.health import EXPIRY_WARNING_DAYS, health_facts, health_report, needs_attention
from pipelines.registry import PLATFORMS, check_connection, get_platform, parse_credentials
from tally.errors import ConnectionTestFailed
from warehouse import connections as store

router = APIRouter(prefix="/api/clients/{companyId}/connections", tags=["connections"])

# Routes match only a UUID in the id's place (``{id:uuid}``): another value is no connection's path, answered 404
# (or 405 where it names another route, like ``/sync``), and never reaches a query.
ConnectionId = Annotated[UUID, Path(alias="id", description="Connection id (a UUID)")]


class RateLimitOut(BaseModel):
    """What the platform last reported of its call budget, during the latest test or load."""

    source: str = Field(
        description="Where the platform said it: x-business-use-case-usage or x-ad-account-usage (Meta Ads), "
        "X-Shopify-Shop-Api-Call-Limit (Shopify), quotaError (Google Ads), propertyQuota.tokensPerDay or "
        "propertyQuota.tokensPerHour (GA4), code 40100 or code 40133 (TikTok's throttles), HTTP 429 (a throttle "
        "that said no more)."
    )
    used_pct: float | None = Field(
        description="The share of the budget used, in percent (the highest the platform reported); 100 for a "
        "quota error or throttle."
    )
    nearly_spent: bool = Field(description="Whether more than 90% of the budget is used.")
    retry_after_s: float | None = Field(
        description="The wait the platform asked for, in seconds (Google's retryDelay, Meta's "
        "estimated_time_to_regain_access, Shopify's bucket leaking back to 90%), if it asked for one."
    )
    detail: dict[str, Any] = Field(description="The platform's own figures, as it sent them.")
    reported_at: UtcDateTime = Field(description="When the platform reported it.")


class ConnectionHealthOut(BaseModel):
    """What the latest connection test or load found: expiry, missing scopes, budget, and warnings in plain words."""

    token_expires_at: UtcDateTime | None = Field(
        default=None,
        description="When the credential stops working unless renewed: the earlier of Meta's debug_token expires_at "
        "and data_access_expires_at; a Google Ads or GA4 refresh token's expiry when Google granted it for a limited "
        "time (refresh_token_expires_in). Null where the platform's token does not expire (a Meta system user's "
        "token, a Google refresh token granted without a time limit, Shopify's and TikTok's tokens) or before the "
        "first check.",
    )
    missing_scopes: list[str] = Field(
        default_factory=list,
        description="The scopes Tally needs that the token lacks (Meta's granted permissions, Google's granted "
        "scope, Shopify's access_scopes.json; TikTok names none).",
    )
    rate_limit: RateLimitOut | None = Field(
        default=None, description="What the platform last said of its call budget; null when it said nothing."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description=f"Plain-word warnings: a token expiring within {EXPIRY_WARNING_DAYS} days, each missing scope "
        "and what cannot be loaded without it, a nearly spent budget.",
    )
    checked_at: UtcDateTime | None = Field(default=None, description="When the latest test or load checked it.")


class ConnectionOut(BaseModel):
    """A connection as the product sees it; credentials are never part of it."""

    id: str
    company_id: str
    platform: str
    status: Literal["active", "warning", "error", "disconnected"] = Field(
        description="active: working. warning: working (loads go on), but its token expires within "
        f"{EXPIRY_WARNING_DAYS} days or lacks a needed scope; see health.warnings. error: the last test or load "
        "failed (last_sync_error says why). disconnected: credentials erased."
    )
    source: str
    connected_by_user_id: str | None
    connected_at: UtcDateTime | None
    last_synced_at: UtcDateTime | None
    last_sync_error: str | None
    store_url: str | None
    account_id: str | None
    display_name: str | None
    scopes: list[str]
    token_expires_at: UtcDateTime | None
    health: ConnectionHealthOut = Field(description="The connection's health as the latest test or load found it.")
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ConnectionsOut(BaseModel):
    connections: list[ConnectionOut]


class ConnectionCreated(BaseModel):
    connection: ConnectionOut


class ConnectionCreate(BaseModel):
    """A new connection: the platform, its credentials (checked against the platform's schema) and a name."""

    model_config = ConfigDict(extra="forbid")

    platform: str = Field(max_length=64, description=f"One of the registry's platforms: {', '.join(PLATFORMS)}")
    credentials: dict[str, Any] = Field(description="Platform-specific credentials; see GET /platforms")
    display_name: DisplayName | None = None


class ConnectionRename(BaseModel):
    """The only field a connection's owner may change."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None


class Ok(BaseModel):
    ok: Literal[True] = True


def _absent_when_none(value: Any) -> bool:
    return value is None


class ConnectionTestOut(BaseModel):
    """A test's outcome; ``error``, ``account_id`` and ``display_name`` are left out when they have no value."""

    success: bool
    error: str | None = Field(default=None, exclude_if=_absent_when_none)
    account_id: str | None = Field(default=None, exclude_if=_absent_when_none)
    display_name: str | None = Field(default=None, exclude_if=_absent_when_none)
    health: ConnectionHealthOut = Field(
        description="The connection's health: found by this test when it passed, as last found when it failed."
    )


def connection_out(row: dict[str, Any], now: datetime) -> ConnectionOut:
    """A stored connection as the product sees it, its health's warnings worded as of ``now``."""
    health = health_report(get_platform(row["platform"]), row.get("health"), now)
    return ConnectionOut.model_validate({**row, "health": health})


def health_check(spec: PlatformSpec, result: ConnectionTestResult, budget: Budget) -> store.HealthCheck:
    """What a passed test found of the connection's health, as the connection stores it."""
    checked_at = datetime.now(UTC)
    facts = health_facts(spec, result, budget, checked_at)
    return store.HealthCheck(facts, result.scopes, result.token_expires_at, needs_attention(facts, checked_at))


@router.get("", response_model=ConnectionsOut, responses=AUTH_ERRORS)
def list_connections(company_id: ViewCompany, db: Db) -> ConnectionsOut:
    """Every connection of the company with its health, credentials never included."""
    now = datetime.now(UTC)
    return ConnectionsOut(connections=[connection_out(row, now) for row in store.list_connections(db, company_id)])


@router.post(
    "",
    status_code=201,
    response_model=ConnectionCreated,
    responses={
        **AUTH_ERRORS,
        400: {"description": "Invalid platform or connection test failed"},
        409: {"description": "Platform is already connected"},
    },
)
def create_connection(
    company_id: UpdateCompany,
    body: ConnectionCreate,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    vault: VaultDep,
    app_engine: AppEngine,
) -> ConnectionCreated:
    """Test the credentials against the platform, then store them encrypted as an active connection.

    No app-database connection is held while the platform answers (up to several slow, retried calls): the
    database is asked before and written after, each in its own short transaction.
    """
    spec = get_platform(body.platform)
    credentials = parse_credentials(spec, body.credentials)
    with app_engine.connect() as db:
        store.ensure_not_connected(db, company_id, spec.id)
    budget = Budget()
    result = check_connection(spec, credentials, settings, budget)
    if not result.success:
        raise ConnectionTestFailed(f"Connection test failed: {result.error}")
    check = health_check(spec, result, budget)
    new = store.NewConnection(
        company_id=company_id,
        platform=spec.id,
        source="manual",
        connected_by_user_id=principal.sub,
        account_id=result.account_id or credentials.account_id(),
        display_name=body.display_name or result.display_name,
        store_url=getattr(credentials, "store_url", None),
        currency=result.currency,
        timezone=result.timezone,
        scopes=result.scopes,
        token_expires_at=result.token_expires_at,
        credentials_encrypted=vault.encrypt(credentials.plain()),
        health=check.health,
        warning=check.warning,
    )
    with app_engine.begin() as db:
        row = store.insert_connection(db, new)
    return ConnectionCreated(connection=connection_out(row, datetime.now(UTC)))


@router.patch("/{id:uuid}", response_model=Ok, responses=AUTH_ERRORS)
def rename_connection(company_id: UpdateCompany, connection_id: ConnectionId, body: ConnectionRename, db: Db) -> Ok:
    """Change the connection's display name."""
    store.rename_connection(db, company_id, str(connection_id), body.display_name)
    return Ok()


@router.delete("/{id:uuid}", response_model=Ok, responses=AUTH_ERRORS)
def disconnect_connection(company_id: UpdateCompany, connection_id: ConnectionId, db: Db) -> Ok:
    """Soft-disconnect: the connection stays listed as disconnected and its credentials are erased."""
    store.disconnect_connection(db, company_id, str(connection_id))
    return Ok()


@router.post("/{id:uuid}/test", response_model=ConnectionTestOut, responses=AUTH_ERRORS)
def test_connection(
    company_id: UpdateCompany,
    connection_id: ConnectionId,
    settings: SettingsDep,
    vault: VaultDep,
    app_engine: AppEngine,
) -> ConnectionTestOut:
    """Decrypt the stored credentials and run the platform's health check; a failure is recorded, a pass stores
    the connection's health (and puts it in ``warning`` when its token expires soon or lacks a scope).

    The credentials are read and the outcome written in two short transactions, none held while the platform
    answers; a connection disconnected meanwhile is not brought back (404, as for any connection not active).
    """
    with app_engine.connect() as db:
        platform, encrypted = store.connected_credentials(db, company_id, str(connection_id))
    spec = get_platform(platform)
    budget = Budget()
    credentials = spec.credentials_model.model_validate(vault.decrypt(encrypted))
    result = check_connection(spec, credentials, settings, budget)
    check = health_check(spec, result, budget) if result.success else None
    with app_engine.begin() as db:
        error = None if result.success else result.error
        store.record_test_result(db, company_id, str(connection_id), error, check)
        row = store.get_connection(db, company_id, str(connection_id))
    return ConnectionTestOut(
        success=result.success,
        error=result.error,
        account_id=result.account_id,
        display_name=result.display_name,
        health=connection_out(row, datetime.now(UTC)).health,
    )
