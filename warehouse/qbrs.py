"""Queries on quarterly business reviews, and the client profile's ``last_qbr_date`` they set."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from warehouse.app_tables import client_profiles, qbrs
from warehouse.connections import later_day, now


@dataclass(frozen=True)
class NewQbr:
    """A review of one company's months: its summary, the figures it was written from, who wrote it, and its
    sources (each read behind the summary with the rows it quotes) with the numbers of it no read returned."""

    company_id: str
    date: date
    period_start: date
    period_end: date
    summary: str
    source: Literal["llm", "template"]
    model: str | None
    figures: dict[str, Any]
    insight_id: str | None
    created_by: str | None
    sources: list[dict[str, Any]] = field(default_factory=list)
    unsourced_numbers: list[str] = field(default_factory=list)


def record_qbr(db: sa.Connection, qbr: NewQbr) -> dict[str, Any]:
    """Store a QBR and set the client's ``last_qbr_date`` in the caller's transaction; returns the stored row."""
    qbr_id = str(uuid.uuid4())
    db.execute(qbrs.insert().values(id=qbr_id, created_at=now(), **vars(qbr)))
    set_last_qbr_date(db, qbr.company_id, qbr.date)
    return dict(db.execute(sa.select(qbrs).where(qbrs.c.id == qbr_id)).mappings().one())


def set_last_qbr_date(db: sa.Connection, company_id: str, qbr_date: date) -> None:
    """Create or update the client's profile so its last QBR date is the latest review's: a review of an earlier
    day does not move it back. One statement that reads the row it updates, so there is no check-then-set race."""
    dialect = postgresql if db.dialect.name == "postgresql" else sqlite
    values = {"company_id": company_id, "last_qbr_date": qbr_date, "updated_at": now()}
    statement = dialect.insert(client_profiles).values(**values)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=[client_profiles.c.company_id],
            set_={
                "last_qbr_date": later_day(client_profiles.c.last_qbr_date, qbr_date),
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


def last_qbr_date(db: sa.Connection, company_id: str) -> date | None:
    """The date of the client's last QBR, or None."""
    query = sa.select(client_profiles.c.last_qbr_date).where(client_profiles.c.company_id == company_id)
    return db.scalar(query)


def list_qbrs(db: sa.Connection, company_id: str) -> list[dict[str, Any]]:
    """The company's QBRs, newest first."""
    query = sa.select(qbrs).where(qbrs.c.company_id == company_id).order_by(qbrs.c.created_at.desc(), qbrs.c.id)
    return [dict(row) for row in db.execute(query).mappings()]
