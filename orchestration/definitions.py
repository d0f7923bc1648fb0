"""The one place Tally's Dagster definitions are assembled. Loading them reads no database and no secret."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.marts import marts
from orchestration.assets.raw import raw_assets
from orchestration.resources import TallyResource
from orchestration.schedules import daily_refresh_job, daily_refresh_schedule
from orchestration.sensors import run_requests_sensor

defs = dg.Definitions(
    assets=[*raw_assets, marts],
    sensors=[run_requests_sensor],
    jobs=[daily_refresh_job],
    schedules=[daily_refresh_schedule],
    resources={"tally": TallyResource()},
)
