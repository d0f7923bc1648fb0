"""The platform emulator: one ASGI app serving all five platforms' real paths, and the ECB's reference rates,
under one base URL.

Point every ``TALLY_<PLATFORM>_BASE_URL`` at it (``Settings.point_platforms_at``). ``/_emulator/`` holds the
control routes the real platforms do not have: faults per platform and account, a request log, a reset.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, FastAPI, Request

from pipelines.emulator import ecb, ga4, google_ads, google_oauth, meta_ads, shopify, tiktok_ads
from pipelines.emulator.faults import EmulatorState, FaultPlan, Restatement

control = APIRouter(prefix="/_emulator", tags=["emulator control"])


def emulator_state(request: Request) -> EmulatorState:
    """The state of the emulator that serves this request."""
    return request.app.state.emulator


@control.put("/faults/{platform}/{account_id}")
def set_faults(platform: str, account_id: str, plan: FaultPlan, request: Request) -> FaultPlan:
    """Switch faults on for one platform account (replaces its earlier plan)."""
    emulator_state(request).faults[(platform, account_id)] = plan
    return plan


@control.put("/restatements/{platform}/{account_id}")
def restate_day(platform: str, account_id: str, restatement: Restatement, request: Request) -> Restatement:
    """Restate one campaign's past day of a platform account: later pulls see the new numbers (as the real
    platforms restate days inside their attribution windows). ``/reset`` forgets every restatement."""
    emulator_state(request).restate(platform, account_id, restatement)
    return restatement


@control.delete("/faults")
def clear_faults(request: Request) -> dict[str, bool]:
    """Switch every fault off."""
    emulator_state(request).faults.clear()
    return {"ok": True}


@control.get("/requests/{platform}/{account_id}")
def request_count(platform: str, account_id: str, request: Request) -> dict[str, int | list[float]]:
    """How many requests an account has received, retries included, and when each arrived (epoch seconds)."""
    state = emulator_state(request)
    key = (platform, account_id)
    return {"requests": state.requests[key], "arrivals": state.arrivals.get(key, [])}


@control.put("/today")
def set_today(today: date, request: Request) -> dict[str, str]:
    """Fix the emulator's clock (late attribution counts days back from it)."""
    emulator_state(request).today = today
    return {"today": today.isoformat()}


@control.post("/reset")
def reset(request: Request) -> dict[str, bool]:
    """Forget faults, restatements, counters and the fixed clock."""
    request.app.state.emulator = EmulatorState()
    return {"ok": True}


def create_emulator() -> FastAPI:
    """A fresh emulator app with its own state."""
    app = FastAPI(title="Tally platform emulator", docs_url="/_emulator/docs", openapi_url="/_emulator/openapi.json")
    app.state.emulator = EmulatorState()
    app.include_router(control)
    for platform in (meta_ads, google_oauth, google_ads, tiktok_ads, shopify, ga4, ecb):
        app.include_router(platform.router)
    return app
