"""The ECB's euro reference rates as Dagster assets: the raw rates, and the ``fx_rates`` mart every conversion of
the results reads. Not partitioned: the rates are no client's, a load brings the days published since the last
one (the whole history on a first load), and the mart is rebuilt whole (a few thousand rows a year).

``fx_rates_schedule`` loads them every morning before the daily refresh queues the syncs, so yesterday's rates
(published around 16:00 CET) are in before the day's figures are. ``fx_rates_catch_up_sensor`` loads them when
they never were (a new deployment, the demo) or the schedule has not loaded them for more than a day (the daemon
was down at 05:30), so no one has to launch the job by hand before ``?currency=`` works.
"""

import shutil
import time
from datetime import UTC, datetime

import dagster as dg
from dlt.pipeline.exceptions import PipelineStepFailed

from orchestration.assets.raw import OWNERS, warehouse_kind, warehouse_pool
from orchestration.resources import TallyResource
from pipelines.fx import DATASET, RAW_TABLES, TABLE, rates_pipeline, source
from tally.errors import PlatformError
from warehouse.models import writer_lock
from warehouse.rates import latest_loaded_day, refresh_rates

FX_GROUP = "fx"
RAW_RATES_KEY = dg.AssetKey(["raw", "fx", TABLE])
RATES_MART_KEY = dg.AssetKey(["marts", "fx_rates"])


@dg.asset(
    key=RAW_RATES_KEY,
    description=RAW_TABLES[TABLE],
    group_name=FX_GROUP,
    kinds={"dlt", warehouse_kind()},
    owners=OWNERS,
    pool=warehouse_pool(),
)
def fx_reference_rates(context: dg.AssetExecutionContext, tally: TallyResource) -> dg.MaterializeResult:
    """Load the reference rates published since the last day in ``raw_fx.reference_rates``."""
    settings = tally.settings
    since = latest_loaded_day(settings)
    working_dir = settings.data_dir / "dlt" / "runs" / context.run_id
    pipeline = rates_pipeline(settings, working_dir)
    started = time.monotonic()
    try:
        pipeline.extract(source(settings, since))
        counts = pipeline.normalize().row_counts
        with writer_lock(settings):
            pipeline.load()
    except PipelineStepFailed as exc:
        raise dg.Failure(description=failure_reason(exc)) from None
    finally:
        shutil.rmtree(working_dir, ignore_errors=True)
    rows = counts.get(TABLE, 0)
    context.log.info(f"loaded {rows} reference rates into {DATASET}.{TABLE} (after {since or 'nothing loaded'})")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "loaded_after": since.isoformat() if since else "nothing loaded",
            "duration_s": round(time.monotonic() - started, 2),
        }
    )


def failure_reason(exc: PipelineStepFailed) -> str:
    """The ECB error at the root of a failed load (it names the cause, never a URL), or the failure's type."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PlatformError):
            return seen.message
        seen = getattr(seen, "exception", None) or seen.__cause__ or seen.__context__
    return f"European Central Bank: the load failed ({type(exc.exception).__name__})"


@dg.asset(
    key=RATES_MART_KEY,
    deps=[RAW_RATES_KEY],
    description="Each currency's euro reference rate and the days it applies to (the last published rate carries "
    "over weekends and holidays): what converting the results into another currency reads.",
    group_name=FX_GROUP,
    kinds={"sql", warehouse_kind()},
    owners=OWNERS,
    pool=warehouse_pool(),
)
def fx_rates(context: dg.AssetExecutionContext, tally: TallyResource) -> dg.MaterializeResult:
    """Rebuild ``marts.fx_rates`` and publish it for the API."""
    report = refresh_rates(tally.settings)
    context.log.info(f"fx_rates rebuilt: {report.rows} rows, {report.currencies} currencies")
    return dg.MaterializeResult(
        metadata={
            "rows": report.rows,
            "currencies": report.currencies,
            "latest_day": report.latest_day.isoformat() if report.latest_day else "none",
            "published_version": report.published_version or "not published (PostgreSQL)",
        }
    )


fx_rates_job = dg.define_asset_job(
    name="fx_rates_job",
    selection=[RAW_RATES_KEY, RATES_MART_KEY],
    description="Load the ECB's reference rates and rebuild the rates the results convert with.",
)

fx_rates_schedule = dg.ScheduleDefinition(
    name="fx_rates_schedule",
    job=fx_rates_job,
    cron_schedule="30 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning at 05:30 UTC, before the daily refresh (06:00), load the ECB's reference rates.",
)


# A morning's load older than this means the schedule missed at least one morning.
CATCH_UP_AFTER_SECONDS = 26 * 3600


@dg.sensor(
    job=fx_rates_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Load the ECB's reference rates when they never were loaded, or not for more than a day.",
)
def fx_rates_catch_up_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Reads only the instance (the raw rates' last materialization), never the warehouse. One request per UTC
    day at most: a load that fails (the ECB unreachable) is asked for again the next day, or by the schedule."""
    last = context.instance.get_latest_materialization_event(RAW_RATES_KEY)
    if last is not None and time.time() - last.timestamp < CATCH_UP_AFTER_SECONDS:
        return dg.SkipReason("the reference rates were loaded within the last day")
    today = datetime.now(UTC).date().isoformat()
    return dg.RunRequest(run_key=f"fx-rates-catch-up-{today}")
