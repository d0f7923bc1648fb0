"""Goals: a company's targets per metric and period type, which GET /results tracks its metrics against."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from api.deps import AUTH_ERRORS, CurrentPrincipal, Db, UpdateCompany, ViewCompany
from warehouse import goals as goal_store
from warehouse.results import METRIC_KEYS

router = APIRouter(prefix="/api/clients/{companyId}/goals", tags=["goals"])

MetricKey = Literal[METRIC_KEYS]  # type: ignore[valid-type]


class GoalIn(BaseModel):
    metric_key: MetricKey
    period_type: Literal["week", "month", "quarter", "year"]
    target: Annotated[float, Field(gt=0, allow_inf_nan=False, description="Target for the whole period")]


class GoalsIn(BaseModel):
    goals: Annotated[list[GoalIn], Field(max_length=len(METRIC_KEYS) * 4)]

    @field_validator("goals")
    @classmethod
    def one_goal_per_metric_and_period(cls, goals: list[GoalIn]) -> list[GoalIn]:
        seen = set()
        for goal in goals:
            if (goal.metric_key, goal.period_type) in seen:
                raise ValueError(f"more than one goal for {goal.metric_key} per {goal.period_type}")
            seen.add((goal.metric_key, goal.period_type))
        return goals


class GoalsOut(BaseModel):
    goals: list[GoalIn]


@router.get("", response_model=GoalsOut, responses=AUTH_ERRORS)
def list_goals(company_id: ViewCompany, db: Db) -> GoalsOut:
    """The company's goals."""
    return GoalsOut(goals=[GoalIn(**vars(goal)) for goal in goal_store.list_goals(db, company_id)])


@router.put("", response_model=GoalsOut, responses={**AUTH_ERRORS, 422: {"description": "Invalid goals"}})
def replace_goals(company_id: UpdateCompany, body: GoalsIn, principal: CurrentPrincipal, db: Db) -> GoalsOut:
    """Replace the company's goals with the given list (an empty list removes them all)."""
    new_goals = [goal_store.Goal(g.metric_key, g.period_type, g.target) for g in body.goals]
    goal_store.replace_goals(db, company_id, new_goals, principal.sub)
    return GoalsOut(goals=[GoalIn(**vars(goal)) for goal in goal_store.list_goals(db, company_id)])
