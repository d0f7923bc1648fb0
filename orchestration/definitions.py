"""The one place Tally's Dagster definitions are assembled. Loading them reads no database and no secret."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.fx import (
    fx_rates,
    fx_rates_catch_up_sensor,
    fx_rates_job,
    fx_rates_schedule,
    fx_reference_rates,
)
from orchestration.assets.insights import weekly_insight_asset
from orchestration.assets.marts import marts_assets
from orchestration.assets.raw import raw_assets
from orchestration.checks import reconciliation_checks
from orchestration.client_refresh import IN_MEMORY, client_refresh_job
from orchestration.resources import LanguageModelResource, TallyResource
from orchestration.schedules import (
    daily_refresh_job,
    daily_refresh_schedule,
    weekly_insight_job,
    weekly_insight_schedule,
)
from orchestration.sensors import client_marts_jobs, run_requests_sensor

defs = dg.Definitions(
    assets=[*raw_assets, *marts_assets, weekly_insight_asset, fx_reference_rates, fx_rates],
    asset_checks=reconciliation_checks,
    sensors=[run_requests_sensor, fx_rates_catch_up_sensor],
    jobs=[client_refresh_job, *client_marts_jobs, daily_refresh_job, weekly_insight_job, fx_rates_job],
    schedules=[daily_refresh_schedule, weekly_insight_schedule, fx_rates_schedule],
    resources={"tally": TallyResource(), "language_model": LanguageModelResource(), IN_MEMORY: dg.mem_io_manager},
)
