"""Client connections: list, create (tested and encrypted), rename, disconnect and health-check."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AUTH_ERRORS, AppEngine, CurrentPrincipal, Db, SettingsDep, UpdateCompany, VaultDep, ViewCompany
from api.fields import DisplayName, UtcDateTime
from pipelines.registry import PLATFORMS, check_connection, get_platform, parse_credentials
from tally.errors import ConnectionTestFailed
from warehouse import connections as store

router = APIRouter(prefix="/api/clients/{companyId}/connections", tags=["connections"])

# Routes match only a UUID in the id's place (``{id:uuid}``): another value is no connection's path, answered 404
# (or 405 where it names another route, like ``/sync``), and never reaches a query.
ConnectionId = Annotated[UUID, Path(alias="id", description="Connection id (a UUID)")]


class ConnectionOut(BaseModel):
    """A connection as the product sees it; credentials are never part of it."""

    id: str
    company_id: str
    platform: str
    status: Literal["active", "error", "disconnected"]
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


class ConnectionTestOut(BaseModel):
    success: bool
    error: str | None = None
    account_id: str | None = None
    display_name: str | None = None


@router.get("", response_model=ConnectionsOut, responses=AUTH_ERRORS)
def list_connections(company_id: ViewCompany, db: Db) -> ConnectionsOut:
    """Every connection of the company, credentials never included."""
    return ConnectionsOut(connections=store.list_connections(db, company_id))


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
    result = check_connection(spec, credentials, settings)
    if not result.success:
        raise ConnectionTestFailed(f"Connection test failed: {result.error}")
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
    )
    with app_engine.begin() as db:
        row = store.insert_connection(db, new)
    return ConnectionCreated(connection=ConnectionOut.model_validate(row))


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


@router.post(
    "/{id:uuid}/test",
    response_model=ConnectionTestOut,
    response_model_exclude_none=True,
    responses=AUTH_ERRORS,
)
def test_connection(
    company_id: UpdateCompany,
    connection_id: ConnectionId,
    settings: SettingsDep,
    vault: VaultDep,
    app_engine: AppEngine,
) -> ConnectionTestOut:
    """Decrypt the stored credentials and run the platform's health check; a failure is recorded.

    The credentials are read and the outcome written in two short transactions, none held while the platform
    answers; a connection disconnected meanwhile is not brought back (404, as for any connection not active).
    """
    with app_engine.connect() as db:
        platform, encrypted = store.connected_credentials(db, company_id, str(connection_id))
    spec = get_platform(platform)
    result = check_connection(spec, spec.credentials_model.model_validate(vault.decrypt(encrypted)), settings)
    with app_engine.begin() as db:
        store.record_test_result(db, company_id, str(connection_id), None if result.success else result.error)
    return ConnectionTestOut(
        success=result.success, error=result.error, account_id=result.account_id, display_name=result.display_name
    )
