"""The run_requests outbox: the API writes a request and answers 202; the Dagster sensor launches and follows it."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import sqlalchemy as sa

from tally.errors import Conflict
from warehouse.app_tables import ACTIVE_STATUSES, connections, run_requests
from warehouse.connections import now

RequestKind = Literal["sync", "backfill"]
FINAL_STATUSES = ("succeeded", "failed")


class BackfillInProgress(Conflict):
    """The company already has a backfill pending or running."""


def connected_platforms(db: sa.Connection, company_id: str) -> list[str]:
    """Platforms the company has a connected (active or failing) connection to."""
    query = (
        sa.select(connections.c.platform)
        .where(connections.c.company_id == company_id, connections.c.status.in_(ACTIVE_STATUSES))
        .order_by(connections.c.platform)
    )
    return list(db.scalars(query))


def create_request(
    db: sa.Connection,
    company_id: str,
    kind: RequestKind,
    platforms: list[str],
    requested_by: str | None,
    days: int | None = None,
) -> str:
    """Write a pending request; a second active backfill of one company violates a unique index: 409."""
    stamp = now()
    request_id = str(uuid.uuid4())
    try:
        with db.begin_nested():
            db.execute(
                run_requests.insert().values(
                    id=request_id,
                    company_id=company_id,
                    kind=kind,
                    days=days,
                    platforms=platforms,
                    status="pending",
                    requested_by=requested_by,
                    dagster_backfill_ids=[],
                    progress={},
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
    except sa.exc.IntegrityError:
        raise BackfillInProgress("A backfill is already in progress") from None
    return request_id


def pending_requests(db: sa.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The oldest requests not yet launched."""
    query = (
        sa.select(run_requests)
        .where(run_requests.c.status == "pending")
        .order_by(run_requests.c.created_at)
        .limit(limit)
    )
    return [dict(row._mapping) for row in db.execute(query)]


def running_requests(db: sa.Connection) -> list[dict[str, Any]]:
    """Requests launched and not finished."""
    query = sa.select(run_requests).where(run_requests.c.status == "running").order_by(run_requests.c.created_at)
    return [dict(row._mapping) for row in db.execute(query)]


def latest_backfill(db: sa.Connection, company_id: str) -> dict[str, Any] | None:
    """The company's most recent backfill request, whatever its state."""
    query = (
        sa.select(run_requests)
        .where(run_requests.c.company_id == company_id, run_requests.c.kind == "backfill")
        .order_by(run_requests.c.created_at.desc())
        .limit(1)
    )
    row = db.execute(query).first()
    return dict(row._mapping) if row else None


def mark_launched(db: sa.Connection, request_id: str, backfill_ids: list[str], progress: dict[str, Any]) -> None:
    """Record the Dagster backfills a request became."""
    stamp = now()
    db.execute(
        run_requests.update()
        .where(run_requests.c.id == request_id)
        .values(
            status="running", dagster_backfill_ids=backfill_ids, progress=progress, started_at=stamp, updated_at=stamp
        )
    )


def update_progress(
    db: sa.Connection, request_id: str, progress: dict[str, Any], status: str, error: str | None = None
) -> None:
    """Record how far a running request has come, and its final state once every platform is done."""
    stamp = now()
    values: dict[str, Any] = {"progress": progress, "status": status, "error": error, "updated_at": stamp}
    if status in FINAL_STATUSES:
        values["finished_at"] = stamp
    db.execute(run_requests.update().where(run_requests.c.id == request_id).values(**values))


def record_backfills(db: sa.Connection, request_id: str, backfill_ids: list[str]) -> None:
    """Remember the Dagster backfill ids a request became (found by its tag once the daemon made them)."""
    if backfill_ids:
        db.execute(
            run_requests.update().where(run_requests.c.id == request_id).values(dagster_backfill_ids=backfill_ids)
        )
