"""Queries on platform connections. Every read is scoped by company; credentials leave only as ciphertext."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from tally.errors import ConnectionNotFound, PlatformAlreadyConnected
from warehouse.app_tables import ACTIVE_STATUSES, connections

PUBLIC_COLUMNS = [
    connections.c.id,
    connections.c.company_id,
    connections.c.platform,
    connections.c.status,
    connections.c.source,
    connections.c.connected_by_user_id,
    connections.c.connected_at,
    connections.c.last_synced_at,
    connections.c.last_sync_error,
    connections.c.store_url,
    connections.c.account_id,
    connections.c.display_name,
    connections.c.scopes,
    connections.c.token_expires_at,
    connections.c.health,
    connections.c.created_at,
    connections.c.updated_at,
]

# A row that is still a live connection (not disconnected, credentials kept): what a write made after a slow
# platform call or a run may touch.
STILL_CONNECTED = connections.c.status.in_(ACTIVE_STATUSES) & connections.c.credentials_encrypted.is_not(None)


@dataclass(frozen=True)
class HealthCheck:
    """What a connection test or load found of a connection's health, as stored (never a credential).

    ``health`` is ``pipelines.health.health_facts``; ``warning`` says whether it needs attention (a token expiring
    within 7 days or a needed scope missing), which makes a working connection's status ``warning``.
    """

    health: dict[str, Any]
    scopes: list[str]
    token_expires_at: datetime | None
    warning: bool


def working_status(warning: bool) -> str:
    """The status of a connection that works: ``warning`` when its health needs attention, else ``active``."""
    return "warning" if warning else "active"


@dataclass(frozen=True)
class NewConnection:
    """What is stored when a connection is made (credentials already encrypted)."""

    company_id: str
    platform: str
    source: str
    connected_by_user_id: str | None
    account_id: str | None
    display_name: str | None
    store_url: str | None
    currency: str | None
    timezone: str | None
    scopes: list[str]
    token_expires_at: datetime | None
    credentials_encrypted: str
    health: dict[str, Any] | None = None
    warning: bool = False


def now() -> datetime:
    """The current time in UTC, the only clock the app database is written with."""
    return datetime.now(UTC)


def list_connections(db: sa.Connection, company_id: str) -> list[dict[str, Any]]:
    """Every connection of a company, oldest first, without credentials."""
    query = (
        sa.select(*PUBLIC_COLUMNS)
        .where(connections.c.company_id == company_id)
        .order_by(connections.c.created_at, connections.c.id)
    )
    return [dict(row._mapping) for row in db.execute(query)]


def get_connection(db: sa.Connection, company_id: str, connection_id: str) -> dict[str, Any]:
    """One connection of a company, without credentials; ``ConnectionNotFound`` for any other id."""
    row = db.execute(
        sa.select(*PUBLIC_COLUMNS).where(connections.c.company_id == company_id, connections.c.id == connection_id)
    ).first()
    if row is None:
        raise ConnectionNotFound("Connection not found")
    return dict(row._mapping)


def connected_credentials(db: sa.Connection, company_id: str, connection_id: str) -> tuple[str, str]:
    """The platform and encrypted credentials of a connected (not disconnected) connection."""
    row = db.execute(
        sa.select(connections.c.platform, connections.c.credentials_encrypted).where(
            connections.c.company_id == company_id,
            connections.c.id == connection_id,
            connections.c.status.in_(ACTIVE_STATUSES),
        )
    ).first()
    if row is None or row.credentials_encrypted is None:
        raise ConnectionNotFound("Connection not found or not active")
    return row.platform, row.credentials_encrypted


def ensure_not_connected(db: sa.Connection, company_id: str, platform: str) -> None:
    """``PlatformAlreadyConnected`` when the company already has a connected connection to the platform."""
    existing = db.execute(
        sa.select(connections.c.id).where(
            connections.c.company_id == company_id,
            connections.c.platform == platform,
            connections.c.status.in_(ACTIVE_STATUSES),
        )
    ).first()
    if existing is not None:
        raise PlatformAlreadyConnected("Platform is already connected")


def insert_connection(db: sa.Connection, new: NewConnection) -> dict[str, Any]:
    """Store a new active connection; ``PlatformAlreadyConnected`` when the platform already has one."""
    ensure_not_connected(db, new.company_id, new.platform)
    stamp = now()
    connection_id = str(uuid.uuid4())
    values = {name: value for name, value in new.__dict__.items() if name != "warning"}
    try:
        with db.begin_nested():
            db.execute(
                connections.insert().values(
                    id=connection_id,
                    status=working_status(new.warning),
                    connected_at=stamp,
                    created_at=stamp,
                    updated_at=stamp,
                    **values,
                )
            )
    except sa.exc.IntegrityError:
        raise PlatformAlreadyConnected("Platform is already connected") from None
    return get_connection(db, new.company_id, connection_id)


def rename_connection(db: sa.Connection, company_id: str, connection_id: str, display_name: str | None) -> None:
    """Change a connection's display name."""
    _update(db, company_id, connection_id, display_name=display_name)


def disconnect_connection(db: sa.Connection, company_id: str, connection_id: str) -> None:
    """Soft-disconnect: status ``disconnected`` and the encrypted credentials erased from the row."""
    _update(db, company_id, connection_id, status="disconnected", credentials_encrypted=None)


def record_test_result(
    db: sa.Connection, company_id: str, connection_id: str, error: str | None, check: HealthCheck | None = None
) -> None:
    """Remember a health check: a failure's reason (credentials kept), or a pass that clears it and reactivates
    (``warning`` when its health needs attention), storing what the pass found of the connection's health.

    Only while the connection is still connected: the check ran outside any transaction, and one disconnected
    meanwhile stays disconnected (``ConnectionNotFound``, as for any connection not active).
    """
    values: dict[str, Any] = {"last_sync_error": error}
    if error is None:
        values["status"] = working_status(check is not None and check.warning)
    if check is not None:
        values |= _health_values(check)
    _update(db, company_id, connection_id, STILL_CONNECTED, not_found="Connection not found or not active", **values)


def record_health(db: sa.Connection, connection_id: str, check: HealthCheck) -> None:
    """Store what a load found of the connection's health; a working connection's status follows it (``warning``
    or ``active``), one in ``error`` stays so until a load or test passes. Only while it is still connected."""
    status = sa.case((connections.c.status == "error", "error"), else_=working_status(check.warning))
    db.execute(
        connections.update()
        .where(connections.c.id == connection_id, STILL_CONNECTED)
        .values(status=status, updated_at=now(), **_health_values(check))
    )


def _health_values(check: HealthCheck) -> dict[str, Any]:
    return {"health": check.health, "scopes": check.scopes, "token_expires_at": check.token_expires_at}


def _update(
    db: sa.Connection,
    company_id: str,
    connection_id: str,
    *conditions: sa.ColumnElement[bool],
    not_found: str = "Connection not found",
    **values: Any,
) -> None:
    result = db.execute(
        connections.update()
        .where(connections.c.company_id == company_id, connections.c.id == connection_id, *conditions)
        .values(updated_at=now(), **values)
    )
    if result.rowcount == 0:
        raise ConnectionNotFound(not_found)


def connected_connection(db: sa.Connection, company_id: str, platform: str) -> dict[str, Any] | None:
    """The company's connected connection to a platform, with its encrypted credentials (for runs only)."""
    row = db.execute(
        sa.select(connections).where(
            connections.c.company_id == company_id,
            connections.c.platform == platform,
            connections.c.status.in_(ACTIVE_STATUSES),
            connections.c.credentials_encrypted.is_not(None),
        )
    ).first()
    return dict(row._mapping) if row else None


def companies_with_connections(db: sa.Connection) -> list[str]:
    """Every company with at least one connected connection: the ``clients`` partitions."""
    query = (
        sa.select(connections.c.company_id)
        .where(connections.c.status.in_(ACTIVE_STATUSES))
        .distinct()
        .order_by(connections.c.company_id)
    )
    return list(db.scalars(query))


def later_day(column: sa.ColumnElement[date], day: date) -> sa.ColumnElement[date]:
    """The later of a date column's value and ``day`` (``day`` where the column is null), in SQL on either database."""
    bound = sa.literal(day, sa.Date)
    return sa.case((column > bound, column), else_=bound)


def record_sync(
    db: sa.Connection,
    connection_id: str,
    error: str | None,
    auth_failed: bool = False,
    loaded_through: date | None = None,
    warning: bool = False,
) -> None:
    """A run's outcome: success stamps ``last_synced_at``, clears the error and moves ``loaded_through`` forward to
    the last day the load covered (a re-pull of older days leaves it), the status ``warning`` when the load found
    the connection's health needing attention, else ``active``; an auth failure sets ``error``."""
    values: dict[str, Any] = {"last_sync_error": error, "updated_at": now()}
    if error is None:
        values["last_synced_at"] = now()
        values["status"] = working_status(warning)
        if loaded_through is not None:
            values["loaded_through"] = later_day(connections.c.loaded_through, loaded_through)
    elif auth_failed:
        values["status"] = "error"
    # Only the row the run loaded, and only while it is still connected: one disconnected during the run stays
    # so, and a reconnect (a new row) keeps its own state.
    db.execute(connections.update().where(connections.c.id == connection_id, STILL_CONNECTED).values(**values))
