"""The revision log: which numbers a re-pull changed, from what to what, and when Tally saw it.

The log is computed in SQL when a load replaces a client's days (``sql/revisions/``) and published with the
client's marts; this router reads it through ``sql/rollups/revisions.sql`` and ``revision_totals.sql``.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AUTH_ERRORS, ViewCompany
from api.results import MartsDep, PlatformDep
from warehouse.query_values import parse_day

router = APIRouter(prefix="/api/clients/{companyId}/results", tags=["results"])
BAD_QUERY = {400: {"description": "since is not a date as YYYY-MM-DD, or platform is not a supported platform"}}


class RevisionOut(BaseModel):
    platform: str
    campaign_id: str | None = Field(description="The campaign (the session campaign for GA4); null for Shopify")
    date: dt.date = Field(description="The local day whose number changed")
    metric_key: str
    previous_value: float = Field(description="What Tally held for the day before the re-pull")
    new_value: float = Field(description="What the platform reported for it on the re-pull")
    change: float = Field(description="new_value - previous_value")
    currency: str | None = Field(description="Currency of amounts; null for counts")
    seen_at: datetime = Field(description="When the load that found the change ran (UTC)")


class RevisionTotalOut(BaseModel):
    metric_key: str
    currency: str | None
    change: float = Field(description="The sum of the listed revisions' changes of this metric")
    revisions: int = Field(description="How many revisions of this metric are listed")


class RevisionsOut(BaseModel):
    since: date | None
    revisions: list[RevisionOut] = Field(description="Newest first (by seen_at, then day)")
    totals: list[RevisionTotalOut] = Field(description="The total change per metric (and currency) of the list")


@router.get("/revisions", response_model=RevisionsOut, responses={**AUTH_ERRORS, **BAD_QUERY})
def revisions(
    company_id: ViewCompany,
    marts: MartsDep,
    platform: PlatformDep,
    since: Annotated[
        str | None,
        Query(
            description="Only revisions seen on or after this UTC day, YYYY-MM-DD", json_schema_extra={"format": "date"}
        ),
    ] = None,
) -> dict[str, Any]:
    """Every change a re-pull made to the company's numbers, newest first, with the total change per metric.

    A platform restates recent days (late conversions, refunds); each sync re-pulls them, and a day whose
    numbers came back different is listed here. A re-pull that changes nothing lists nothing.
    """
    since_day = None if since is None else parse_day("since", since)
    params = {"company_id": company_id, "platform": platform, "since": since_day}
    with marts.session(company_id) as session:
        rows = session.rows("revisions", **params)
        totals = session.rows("revision_totals", **params)
    for row in rows:
        row["seen_at"] = row["seen_at"].replace(tzinfo=UTC)
    return {"since": since_day, "revisions": rows, "totals": totals}
