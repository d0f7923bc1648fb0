"""Queries on goals: each company's target per metric and period type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from warehouse.app_tables import goals


@dataclass(frozen=True)
class Goal:
    """A target for one metric over one kind of period (a month's spend, a quarter's ROAS)."""

    metric_key: str
    period_type: str
    target: float


def list_goals(db: sa.Connection, company_id: str, period_type: str | None = None) -> list[Goal]:
    """The company's goals, optionally for one period type, in a stable order."""
    query = sa.select(goals.c.metric_key, goals.c.period_type, goals.c.target).where(goals.c.company_id == company_id)
    if period_type is not None:
        query = query.where(goals.c.period_type == period_type)
    query = query.order_by(goals.c.period_type, goals.c.metric_key)
    return [Goal(**row) for row in db.execute(query).mappings()]


def replace_goals(db: sa.Connection, company_id: str, new_goals: list[Goal], updated_by: str | None) -> None:
    """Make ``new_goals`` the company's whole set, in the caller's transaction."""
    db.execute(sa.delete(goals).where(goals.c.company_id == company_id))
    if new_goals:
        now = datetime.now(UTC)
        db.execute(
            sa.insert(goals),
            [
                {
                    "company_id": company_id,
                    "metric_key": goal.metric_key,
                    "period_type": goal.period_type,
                    "target": goal.target,
                    "updated_by": updated_by,
                    "updated_at": now,
                }
                for goal in new_goals
            ],
        )
