"""The run_requests outbox: the API writes a request and answers 202; the Dagster sensor hands it to one run.

A request is ``pending`` until the sensor sees Dagster accept its run, ``running`` while the run works, and
``succeeded`` only once the client's marts holding the loaded days are published (or ``failed``, with a reason).
Its progress is one row per step in ``run_request_steps``: a row per platform and one for the marts, each written
by whoever does that step, so no writer overwrites another's progress.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa

from tally.errors import Conflict
from tally.request_context import current_request_id
from tally.run_tags import MARTS_STEP
from warehouse.app_tables import ACTIVE_STATUSES, connections, run_request_steps, run_requests
from warehouse.connections import now

RequestKind = Literal["sync", "backfill"]
FINAL_STATUSES = ("succeeded", "failed")
FINAL_STEP_STATUSES = ("succeeded", "failed", "skipped")


class BackfillInProgress(Conflict):
    """The company already has a backfill pending or running."""


@dataclass(frozen=True)
class PlannedStep:
    """One platform step of a request as the sensor planned it: its local days, or why it is skipped."""

    platform: str
    start: date | None
    end: date | None
    skipped: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1 if self.start and self.end else 0


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
    """Write a pending request and return its id.

    A second active backfill of one company violates a unique index: 409. A second active sync violates another
    and is merged into the one already pending or running (its id is returned): a sync re-pulls every connected
    platform's lookback window, so one in flight already brings what the second would. Written during an API
    request, the request keeps that request's id (``X-Request-ID``) as its ``trace_id``.
    """
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
                    trace_id=current_request_id(),
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
    except sa.exc.IntegrityError:
        if kind == "sync":
            active = active_request(db, company_id, "sync")
            if active is not None:
                return active["id"]
        raise BackfillInProgress("A backfill is already in progress") from None
    return request_id


def active_request(db: sa.Connection, company_id: str, kind: RequestKind) -> dict[str, Any] | None:
    """The company's pending or running request of this kind, if any."""
    query = sa.select(run_requests).where(
        run_requests.c.company_id == company_id,
        run_requests.c.kind == kind,
        run_requests.c.status.in_(("pending", "running")),
    )
    row = db.execute(query).first()
    return dict(row._mapping) if row else None


def pending_requests(db: sa.Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The oldest requests whose run Dagster has not been seen to accept."""
    query = (
        sa.select(run_requests)
        .where(run_requests.c.status == "pending")
        .order_by(run_requests.c.created_at)
        .limit(limit)
    )
    return [dict(row._mapping) for row in db.execute(query)]


def running_requests(db: sa.Connection) -> list[dict[str, Any]]:
    """Requests whose run Dagster accepted and that are not finished."""
    query = sa.select(run_requests).where(run_requests.c.status == "running").order_by(run_requests.c.created_at)
    return [dict(row._mapping) for row in db.execute(query)]


def get_request(db: sa.Connection, request_id: str) -> dict[str, Any] | None:
    """One request by id."""
    row = db.execute(sa.select(run_requests).where(run_requests.c.id == request_id)).first()
    return dict(row._mapping) if row else None


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


def plan_steps(db: sa.Connection, request_id: str, steps: list[PlannedStep]) -> list[PlannedStep]:
    """Record a request's steps the first time the sensor plans it; later ticks get the recorded plan back.

    Re-planning would move the windows when a launch is retried after midnight; the first plan is the request's.
    """
    recorded = planned_steps(db, request_id)
    if recorded:
        return recorded
    stamp = now()
    rows = [
        {
            "request_id": request_id,
            "step": step.platform,
            "status": "skipped" if step.skipped else "waiting",
            "start_date": step.start,
            "end_date": step.end,
            "partitions_done": 0,
            "partitions_total": step.days,
            "error": step.skipped,
            "updated_at": stamp,
        }
        for step in steps
    ]
    rows.append(
        {
            "request_id": request_id,
            "step": MARTS_STEP,
            "status": "waiting",
            "start_date": None,
            "end_date": None,
            "partitions_done": 0,
            "partitions_total": 1,
            "error": None,
            "updated_at": stamp,
        }
    )
    db.execute(run_request_steps.insert(), rows)
    db.execute(run_requests.update().where(run_requests.c.id == request_id).values(launched_at=stamp, updated_at=stamp))
    return steps


def planned_steps(db: sa.Connection, request_id: str) -> list[PlannedStep]:
    """The platform steps recorded for a request, in platform order."""
    query = (
        sa.select(run_request_steps)
        .where(run_request_steps.c.request_id == request_id, run_request_steps.c.step != MARTS_STEP)
        .order_by(run_request_steps.c.step)
    )
    return [
        PlannedStep(row.step, row.start_date, row.end_date, row.error if row.status == "skipped" else None)
        for row in db.execute(query)
    ]


def mark_running(db: sa.Connection, request_id: str, run_id: str) -> None:
    """Dagster accepted the request's run: the request is running."""
    stamp = now()
    db.execute(
        run_requests.update()
        .where(run_requests.c.id == request_id, run_requests.c.status == "pending")
        .values(status="running", dagster_run_id=run_id, started_at=stamp, updated_at=stamp)
    )


def update_step(
    db: sa.Connection,
    request_id: str,
    step: str,
    status: str,
    partitions_done: int | None = None,
    error: str | None = None,
) -> None:
    """Record one step's state; a step already final keeps its outcome unless it is being re-run (``running``)."""
    values: dict[str, Any] = {"status": status, "error": error, "updated_at": now()}
    if partitions_done is not None:
        values["partitions_done"] = partitions_done
    condition = run_request_steps.c.step == step
    if status != "running":
        condition &= run_request_steps.c.status.not_in(FINAL_STEP_STATUSES)
    db.execute(
        run_request_steps.update().where(run_request_steps.c.request_id == request_id, condition).values(**values)
    )


def step_rows(db: sa.Connection, request_id: str) -> list[dict[str, Any]]:
    """Every step of a request, platforms in order and the marts last."""
    query = sa.select(run_request_steps).where(run_request_steps.c.request_id == request_id)
    rows = [dict(row._mapping) for row in db.execute(query)]
    return sorted(rows, key=lambda row: (row["step"] == MARTS_STEP, row["step"]))


def request_progress(db: sa.Connection, request_id: str) -> dict[str, dict[str, Any]]:
    """Progress per step: ``{step: {status, partitions_done, partitions_total, error}}``."""
    return {
        row["step"]: {
            "status": row["status"],
            "partitions_done": row["partitions_done"],
            "partitions_total": row["partitions_total"],
            "error": row["error"],
        }
        for row in step_rows(db, request_id)
    }


def step_errors(db: sa.Connection, request_id: str) -> str | None:
    """The reasons of the request's failed steps, ``platform: reason; ...``, or None when none failed."""
    errors = [f"{row['step']}: {row['error']}" for row in step_rows(db, request_id) if row["status"] == "failed"]
    return "; ".join(errors) or None


def finish_request(db: sa.Connection, request_id: str, status: str, error: str | None = None) -> bool:
    """Set a request's final state, once: returns False when it was already final."""
    stamp = now()
    result = db.execute(
        run_requests.update()
        .where(run_requests.c.id == request_id, run_requests.c.status.not_in(FINAL_STATUSES))
        .values(status=status, error=error, finished_at=stamp, updated_at=stamp)
    )
    return result.rowcount > 0


def fail_unfinished_steps(db: sa.Connection, request_id: str, reason: str) -> None:
    """Mark every step that never reached an outcome as failed with ``reason`` (its run ended without one)."""
    db.execute(
        run_request_steps.update()
        .where(
            run_request_steps.c.request_id == request_id,
            run_request_steps.c.status.not_in(FINAL_STEP_STATUSES),
        )
        .values(status="failed", error=reason, updated_at=now())
    )


def launched_before(request: dict[str, Any], moment: datetime) -> bool:
    """Whether the sensor first asked Dagster for this request's run before ``moment``."""
    launched = request.get("launched_at")
    if launched is None:
        return False
    if launched.tzinfo is None:
        launched = launched.replace(tzinfo=moment.tzinfo)
    return launched < moment
