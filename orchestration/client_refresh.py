"""One client's refresh as one Dagster run: every requested platform fetched, then written, then that client's
marts rebuilt and published.

A request (a sync or a backfill) used to cost a run per platform plus a marts run, each with its own process
start-up. Here it is one run on the in-process executor: ``plan_refresh`` fans out one step pair per platform,
``fetch_days`` (HTTP and normalisation, no lock, so clients fetch side by side) and ``write_days`` (the only
platform step that holds the DuckDB ``warehouse_writer`` pool), ``record_days`` stores the raw partitions'
materializations outside the pool, ``reconcile_days`` compares the load with the platform's own totals (an
asset check evaluation), and ``refresh_client_marts`` publishes the client's marts once every platform
is written. Each step records its progress on the request's step row, and the
marts step records the request's final state, so ``succeeded`` means the data is served.

The raw assets' (client, day) partitions and the marts' client partition are materialized by these steps, so
the asset pages show what the run loaded. A platform that fails fails its own step (and the run), the marts step
does not run, and the run_requests sensor publishes what the other platforms loaded with a marts run of its own.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dagster as dg

from orchestration.assets.marts import mart_asset_key, publish_client_marts
from orchestration.assets.raw import (
    FetchedDays,
    WrittenDays,
    client_raw_asset_key,
    fetch_platform,
    warehouse_pool,
    write_platform,
)
from orchestration.checks import reconciliation_evaluation
from orchestration.partitions import ClientDays, partition_key
from orchestration.resources import TallyResource
from tally.run_tags import TAG_REQUEST
from warehouse import run_requests as outbox
from warehouse.models import MART_MODELS

JOB_NAME = "client_refresh_job"
# The steps hand each other small descriptions (the days, the rows written), never data: the fetched rows stay in
# the run's dlt working folder. In one process they pass in memory; pickling each to a file cost a stored DEBUG
# event and a file per hand-over, for a run that is not resumed step by step (a request is asked again instead).
IN_MEMORY = "in_memory_io_manager"


class PlatformWindow(dg.Config):
    """One platform's local days to load (inclusive ISO dates)."""

    platform: str
    start: str
    end: str


class RefreshPlan(dg.Config):
    """What a refresh loads: one client, and a window per platform. No credential: those are read in the run."""

    company_id: str
    windows: list[PlatformWindow]


def refresh_run_config(company_id: str, windows: dict[str, tuple[date, date]]) -> dict[str, Any]:
    """The run config of a refresh of ``company_id`` over each platform's window."""
    listed = [
        {"platform": platform, "start": start.isoformat(), "end": end.isoformat()}
        for platform, (start, end) in sorted(windows.items())
    ]
    return {"ops": {"plan_refresh": {"config": {"company_id": company_id, "windows": listed}}}}


@dataclass(frozen=True)
class PlannedLoad:
    """One platform step of a refresh: the platform and the client's days."""

    platform: str
    span: ClientDays


@dg.op(
    out={
        "platforms": dg.DynamicOut(PlannedLoad, io_manager_key=IN_MEMORY),
        "client": dg.Out(str, io_manager_key=IN_MEMORY),
    }
)
def plan_refresh(context: dg.OpExecutionContext, tally: TallyResource, config: RefreshPlan):
    """Fan out one fetch-and-write pair per platform of the plan; the request is running from here on."""
    request_id = context.run.tags.get(TAG_REQUEST)
    if request_id:
        with tally.app_engine().begin() as db:
            outbox.mark_running(db, request_id, context.run_id)
    for window in config.windows:
        span = ClientDays(config.company_id, date.fromisoformat(window.start), date.fromisoformat(window.end))
        planned = PlannedLoad(window.platform, span)
        yield dg.DynamicOutput(planned, output_name="platforms", mapping_key=window.platform)
    yield dg.Output(config.company_id, output_name="client")


@dg.op(
    out=dg.Out(FetchedDays, io_manager_key=IN_MEMORY),
    description="Fetch one platform's days of the client and normalise them; holds no warehouse lock.",
)
def fetch_days(context: dg.OpExecutionContext, tally: TallyResource, planned: PlannedLoad) -> FetchedDays:
    platform, span = planned.platform, planned.span
    request_id = context.run.tags.get(TAG_REQUEST)
    _record(tally, request_id, platform, "running", partitions_done=0)

    def progress(days_fetched: int) -> None:
        _record(tally, request_id, platform, "running", partitions_done=days_fetched)

    try:
        return fetch_platform(context, tally, platform, span, on_progress=progress)
    except dg.Failure as failure:
        _record(tally, request_id, platform, "failed", error=failure.description)
        raise


@dg.op(
    out=dg.Out(WrittenDays, io_manager_key=IN_MEMORY),
    pool=warehouse_pool(),
    description="Write one platform's fetched days into its raw tables.",
)
def write_days(context: dg.OpExecutionContext, tally: TallyResource, fetched: FetchedDays) -> WrittenDays:
    """Only the write holds the writer slot; its materializations are stored by ``record_days``, outside it."""
    request_id = context.run.tags.get(TAG_REQUEST)
    try:
        written = write_platform(context, tally, fetched)
    except dg.Failure as failure:
        _record(tally, request_id, fetched.platform, "failed", error=failure.description)
        raise
    status = "skipped" if fetched.skipped else "succeeded"
    _record(tally, request_id, fetched.platform, status, partitions_done=fetched.span.days, error=fetched.skipped)
    return written


@dg.op(
    out=dg.Out(dg.Nothing, io_manager_key=IN_MEMORY),
    description="Materialize the (client, day) partitions of the raw tables a write first loaded or changed.",
)
def record_days(context: dg.OpExecutionContext, written: WrittenDays) -> None:
    """A step of its own, so that storing an event per table and day (about 15 ms each on SQLite storage) does
    not hold the warehouse writer slot that every other client's write is waiting for."""
    _report_raw_partitions(context, written)


@dg.op(
    out=dg.Out(dg.Nothing, io_manager_key=IN_MEMORY),
    description="Compare one platform's load with the platform's own account-level totals.",
)
def reconcile_days(context: dg.OpExecutionContext, tally: TallyResource, written: WrittenDays) -> None:
    """Evaluate the platform's reconciliation check (orchestration/checks.py) for the days just written. A gap is
    a WARN on the raw asset's Checks tab and ``reconciled: false`` in freshness; the load itself stands."""
    evaluation = reconciliation_evaluation(tally, written)
    if evaluation is not None:
        context.log_event(evaluation)


@dg.op(
    out=dg.Out(dg.Nothing, io_manager_key=IN_MEMORY),
    pool=warehouse_pool(),
    description="Rebuild and publish the client's marts, then record the request's outcome.",
)
def refresh_client_marts(
    context: dg.OpExecutionContext, tally: TallyResource, client: str, written: list[WrittenDays]
) -> None:
    metadata = publish_client_marts(context, tally, [client], context.run.tags.get(TAG_REQUEST))
    for name in MART_MODELS:
        context.log_event(dg.AssetMaterialization(asset_key=mart_asset_key(name), partition=client, metadata=metadata))


@dg.job(
    name=JOB_NAME,
    executor_def=dg.in_process_executor,
    description="One client's sync or backfill: each platform fetched and written, then the client's marts published.",
)
def client_refresh_job() -> None:
    platforms, client = plan_refresh()
    written = platforms.map(lambda planned: write_days(fetch_days(planned)))
    written.map(record_days)
    written.map(reconcile_days)
    refresh_client_marts(client, written.collect())


def _report_raw_partitions(context: dg.OpExecutionContext, written: WrittenDays) -> None:
    """Materialize the (client, day) partitions of the platform's raw tables that the write first loaded or
    changed, on the assets of the client's shard.

    A day the load left exactly as it was keeps its last materialization: a morning's sync re-pulls each
    platform's whole restatement window (up to 30 days of every raw table), and storing an event for each of
    those days was most of what a sync's run stored. The run's log says how many days were re-pulled unchanged.
    """
    span = written.fetched.span
    unchanged = written.changes.unchanged_days
    days = [day for day in (span.start + timedelta(days=n) for n in range(span.days)) if day not in unchanged]
    if unchanged:
        context.log.info(
            f"{written.fetched.platform}: {len(unchanged)} of {span.days} re-pulled days of {span.company_id} are "
            "unchanged and keep their last materialization"
        )
    for table, metadata in written.metadata_by_table().items():
        key = client_raw_asset_key(written.fetched.platform, table, span.company_id)
        for day in days:
            partition = str(partition_key(span.company_id, day))
            context.log_event(dg.AssetMaterialization(asset_key=key, partition=partition, metadata=metadata))


def _record(
    tally: TallyResource,
    request_id: str | None,
    platform: str,
    status: str,
    partitions_done: int | None = None,
    error: str | None = None,
) -> None:
    """Record a platform step's state on its request (a run launched by hand has none)."""
    if request_id:
        with tally.app_engine().begin() as db:
            outbox.update_step(db, request_id, platform, status, partitions_done=partitions_done, error=error)
