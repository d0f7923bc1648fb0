"""Queries on insights: the short notes on a company's results that the weekly insight asset writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa

from warehouse.app_tables import insights
from warehouse.connections import now

Source = Literal["llm", "template"]


@dataclass(frozen=True)
class NewInsight:
    """An insight about one company's period, with the figures it was written from and who wrote it."""

    company_id: str
    period_type: str
    period_start: date
    period_end: date
    text: str
    source: Source
    model: str | None
    figures: dict[str, Any]


def insert_insight(db: sa.Connection, insight: NewInsight) -> str:
    """Store an insight; returns its id."""
    insight_id = str(uuid.uuid4())
    db.execute(insights.insert().values(id=insight_id, generated_at=now(), **vars(insight)))
    return insight_id


def latest_insight(db: sa.Connection, company_id: str) -> dict[str, Any] | None:
    """The company's most recent insight as GET /results shows it (``text``, ``generated_at``, ``period``,
    ``source``) plus its ``id``; None when none was written yet."""
    query = (
        sa.select(insights)
        .where(insights.c.company_id == company_id)
        .order_by(insights.c.generated_at.desc(), insights.c.id)
        .limit(1)
    )
    row = db.execute(query).mappings().first()
    if row is None:
        return None
    generated_at: datetime = row["generated_at"]
    return {
        "id": row["id"],
        "text": row["text"],
        "generated_at": generated_at.isoformat(),
        "period": {"type": row["period_type"], "start": row["period_start"], "end": row["period_end"]},
        "source": row["source"],
    }
