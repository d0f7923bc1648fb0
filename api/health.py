"""``GET /healthz`` and ``GET /readyz``: whether this process answers, and whether it can serve results.

A load balancer sends traffic to a worker once ``/readyz`` answers 200 and restarts one whose ``/healthz`` stops
answering. Neither needs a token, so neither names a company or reads anything of one: readiness asks the app
database for its schema revision and the marts reader whether it can read, and names what is not ready.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.results import MartsDep
from warehouse.app_database import schema_problem

router = APIRouter(tags=["health"])
OK = "ok"


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str] = Field(description='Each dependency and "ok" (or what it lacks)')


class NotReadyOut(BaseModel):
    detail: str = Field(description="Which dependencies are not ready")
    checks: dict[str, str] = Field(description='Each dependency and "ok" or why it is not ready')


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> dict[str, str]:
    """The process answers: its event loop runs. Says nothing about the databases (that is ``/readyz``)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": NotReadyOut}})
def readyz(request: Request, marts: MartsDep) -> dict[str, object] | JSONResponse:
    """The app database answers at the latest migration and the served marts are readable; else 503 naming what
    is not."""
    engine: sa.Engine = request.app.state.engine
    checks = {"app_database": schema_problem(engine) or OK, "marts": marts.unready_reason() or OK}
    failing = [name for name, state in checks.items() if state != OK]
    if failing:
        return JSONResponse({"detail": f"Not ready: {', '.join(failing)}", "checks": checks}, status_code=503)
    return {"status": "ready", "checks": checks}
