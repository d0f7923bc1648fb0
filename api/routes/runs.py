"""Sync and backfill: written to the run_requests outbox and answered 202; Dagster picks them up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from api.deps import AUTH_ERRORS, CurrentPrincipal, Db, UpdateCompany, ViewCompany
from api.fields import UtcDateTime
from pipelines.registry import platforms_of_kind
from tally.errors import InvalidRequest
from warehouse import run_requests as outbox

router = APIRouter(prefix="/api/clients/{companyId}/connections", tags=["sync and backfill"])

# The platforms a backfill loads: the registry's ad platforms (the others' history is not backfilled on request).
AD_PLATFORMS = platforms_of_kind("ads")
BACKFILL_DAYS = (30, 60, 90)


class Message(BaseModel):
    message: str


class StepProgress(BaseModel):
    """One step of a request: a platform's days (``partitions_done`` counts the days fetched so far; the step is
    ``succeeded`` once they are written), or the ``marts`` step (its one client partition), which publishes the
    loaded days for the results routes."""

    status: str = Field(description="waiting, running, succeeded, failed or skipped")
    partitions_done: int
    partitions_total: int
    error: str | None = None


class BackfillState(BaseModel):
    """The latest backfill of a company, for a progress bar."""

    id: str
    status: str
    days: int | None
    platforms: list[str]
    progress: dict[str, StepProgress] = Field(
        description="Per platform, and a `marts` entry: the request is `succeeded` only once its marts are published."
    )
    partitions_done: int
    partitions_total: int
    error: str | None
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None


class BackfillStateOut(BaseModel):
    backfill: BackfillState | None


@router.post(
    "/sync",
    status_code=202,
    response_model=Message,
    responses={**AUTH_ERRORS, 400: {"description": "The company has no active connection"}},
)
def request_sync(company_id: UpdateCompany, principal: CurrentPrincipal, db: Db) -> Message:
    """Queue a sync of every connected platform over its lookback window; one already pending or running for the
    company is the one this joins (it re-pulls the same windows)."""
    platforms = outbox.connected_platforms(db, company_id)
    if not platforms:
        raise InvalidRequest("The company has no active connection to sync")
    outbox.create_request(db, company_id, "sync", platforms, principal.sub)
    return Message(message="Sync started")


@router.post(
    "/backfill",
    status_code=202,
    response_model=Message,
    responses={
        **AUTH_ERRORS,
        400: {"description": "Invalid days value, or no ad platform connected"},
        409: {"description": "A backfill is already in progress"},
    },
)
def request_backfill(
    company_id: UpdateCompany,
    principal: CurrentPrincipal,
    db: Db,
    body: dict[str, Any] = Body(examples=[{"days": 90}]),  # noqa: B008
) -> Message:
    """Queue a 30, 60 or 90-day backfill of the company's connected ad platforms."""
    days = body.get("days")
    if type(days) is not int or days not in BACKFILL_DAYS:
        raise InvalidRequest("days must be one of 30, 60 or 90")
    platforms = [p for p in outbox.connected_platforms(db, company_id) if p in AD_PLATFORMS]
    if not platforms:
        raise InvalidRequest(f"The company has no active ad platform connection ({', '.join(AD_PLATFORMS)})")
    outbox.create_request(db, company_id, "backfill", platforms, principal.sub, days=days)
    return Message(message=f"Backfill started for {days} days")


@router.get("/backfill", response_model=BackfillStateOut, responses=AUTH_ERRORS)
def backfill_state(company_id: ViewCompany, db: Db) -> BackfillStateOut:
    """The latest backfill's state and progress per platform (null when there has been none)."""
    row = outbox.latest_backfill(db, company_id)
    if row is None:
        return BackfillStateOut(backfill=None)
    progress = {step: StepProgress(**entry) for step, entry in outbox.request_progress(db, row["id"]).items()}
    return BackfillStateOut(
        backfill=BackfillState(
            id=row["id"],
            status=row["status"],
            days=row["days"],
            platforms=row["platforms"],
            progress=progress,
            partitions_done=sum(p.partitions_done for p in progress.values()),
            partitions_total=sum(p.partitions_total for p in progress.values()),
            error=row["error"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )
    )
