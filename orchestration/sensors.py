"""The run_requests sensor: hands the API's outbox rows to Dagster, one run per request, and follows them to the end.

Each tick it (1) keeps the ``clients`` dynamic partitions, and each client's shard's, in step with the companies
that have connections, (2) asks Dagster for one ``client_refresh_job`` run per pending request, over each
platform's window (a 30/60/90-day backfill, or the sync lookback) ending yesterday in the account's time zone,
and (3) follows running requests' runs until the run has recorded the request's outcome.

The hand-over is idempotent. A request stays ``pending`` until a run tagged with its id exists in the instance; until
then every tick asks again with the same ``run_key``, so a tick that died after planning, or a submission Dagster
refused, is simply retried, and Dagster never launches one request twice. A request whose run never appears within
``LAUNCH_TIMEOUT``, or whose run ended without recording an outcome (a killed worker, a failed marts step), fails
with the reason, and the client's next backfill is accepted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.assets.marts import mart_asset_key
from orchestration.client_refresh import JOB_NAME, client_refresh_job, refresh_run_config
from orchestration.partitions import CLIENT_SHARDS, add_clients, client_shard, shard_clients_def, shard_name
from orchestration.resources import TallyResource
from pipelines.registry import lookback_days
from tally.run_tags import MARTS_STEP, TAG_API_REQUEST, TAG_COMPANY, TAG_REQUEST
from tally.settings import Settings
from warehouse import connections as store
from warehouse import run_requests as outbox
from warehouse.models import MART_MODELS
from warehouse.run_requests import PlannedStep

# How long a request may wait for Dagster to accept its run before it fails (ticks retry meanwhile).
LAUNCH_TIMEOUT = timedelta(minutes=10)
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def shard_marts_job(shard: int, shards: int = CLIENT_SHARDS) -> dg.UnresolvedAssetJobDefinition:
    """The job that publishes one client's marts, per shard of the clients (a job's assets share one partitions
    definition, and each shard's marts have their own clients)."""
    name = shard_name(shard, shards)
    return dg.define_asset_job(
        name="client_marts_job" if name is None else f"client_marts_job_{name}",
        selection=[mart_asset_key(table, shard, shards) for table in MART_MODELS],
        partitions_def=shard_clients_def(shard, shards),
        executor_def=dg.in_process_executor,
        description="Publish one client's marts: launched when a platform of a request failed but others loaded.",
    )


client_marts_jobs = [shard_marts_job(shard) for shard in range(CLIENT_SHARDS)]


def client_marts_job(company_id: str) -> dg.UnresolvedAssetJobDefinition:
    """The marts job of a client's shard."""
    return client_marts_jobs[client_shard(company_id)]


def request_window(
    request: dict[str, Any], platform: str, timezone: str | None, settings: Settings, now: datetime
) -> tuple[date, date]:
    """The days a request loads for a platform: N days ending yesterday in the account's own time zone."""
    yesterday = now.astimezone(ZoneInfo(timezone or "UTC")).date() - timedelta(days=1)
    days = request["days"] if request["kind"] == "backfill" else lookback_days(settings, platform)
    return yesterday - timedelta(days=days - 1), yesterday


def plan(tally: TallyResource, request: dict[str, Any], now: datetime) -> list[PlannedStep]:
    """Each platform's window of a request, recorded once; a platform without an active connection is skipped."""
    steps = []
    with tally.app_engine().begin() as db:
        for platform in request["platforms"]:
            connection = store.connected_connection(db, request["company_id"], platform)
            if connection is None:
                steps.append(PlannedStep(platform, None, None, skipped="no active connection"))
                continue
            start, end = request_window(request, platform, connection["timezone"], tally.settings, now)
            steps.append(PlannedStep(platform, start, end))
        return outbox.plan_steps(db, request["id"], steps)


def run_tags(request: dict[str, Any]) -> dict[str, str]:
    """The tags of a request's runs: its company, its id, and the id of the API call that asked for it."""
    tags = {TAG_COMPANY: request["company_id"], TAG_REQUEST: request["id"]}
    if request.get("trace_id"):
        tags[TAG_API_REQUEST] = request["trace_id"]
    return tags


def refresh_run_request(request: dict[str, Any], steps: list[PlannedStep]) -> dg.RunRequest:
    """The one run of a request; its ``run_key`` makes every retry of the hand-over the same request to Dagster."""
    windows = {step.platform: (step.start, step.end) for step in steps if not step.skipped}
    return dg.RunRequest(
        run_key=f"refresh-{request['id']}",
        job_name=JOB_NAME,
        run_config=refresh_run_config(request["company_id"], windows),
        tags=run_tags(request),
    )


def marts_run_request(request: dict[str, Any]) -> dg.RunRequest:
    """A marts-only run for a request whose refresh run failed on some platform after others loaded."""
    return dg.RunRequest(
        run_key=f"marts-{request['id']}",
        job_name=client_marts_job(request["company_id"]).name,
        partition_key=request["company_id"],
        tags=run_tags(request),
    )


def request_runs(instance: dg.DagsterInstance, request_id: str) -> dict[str, dg.DagsterRun]:
    """The request's runs by job name (its refresh run and, after a platform failure, its marts run)."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={TAG_REQUEST: request_id}))
    return {run.job_name: run for run in reversed(runs)}


def hand_over(
    context: dg.SensorEvaluationContext, tally: TallyResource, request: dict[str, Any], now: datetime
) -> list[dg.RunRequest]:
    """Mark a pending request running once Dagster has its run; otherwise (re)ask for the run, or give up."""
    run = request_runs(context.instance, request["id"]).get(JOB_NAME)
    if run is not None:
        with tally.app_engine().begin() as db:
            outbox.mark_running(db, request["id"], run.run_id)
        return []
    if outbox.launched_before(request, now - LAUNCH_TIMEOUT):
        reason = f"Dagster did not start the request's run within {int(LAUNCH_TIMEOUT.total_seconds() // 60)} minutes"
        _fail(tally, request["id"], reason)
        return []
    steps = plan(tally, request, now)
    if all(step.skipped for step in steps):
        _fail(tally, request["id"], "no platform left to load")
        return []
    return [refresh_run_request(request, steps)]


def follow(context: dg.SensorEvaluationContext, tally: TallyResource, request: dict[str, Any]) -> list[dg.RunRequest]:
    """Settle a running request whose runs ended without recording its outcome (the runs record it themselves)."""
    runs = request_runs(context.instance, request["id"])
    refresh, marts = runs.get(JOB_NAME), runs.get(client_marts_job(request["company_id"]).name)
    if refresh is not None and refresh.status not in FINISHED:
        return []
    if marts is not None:
        if marts.status in FINISHED:
            _fail(tally, request["id"], _run_failure(context.instance, marts) or "the marts run ended without a result")
        return []
    with tally.app_engine().connect() as db:
        progress = outbox.request_progress(db, request["id"])
    loaded = any(entry["status"] == "succeeded" for step, entry in progress.items() if step != MARTS_STEP)
    if loaded and progress.get(MARTS_STEP, {}).get("status") == "waiting":
        return [marts_run_request(request)]
    reason = (_run_failure(context.instance, refresh) if refresh else None) or "the run ended without a result"
    _fail(tally, request["id"], reason)
    return []


def _fail(tally: TallyResource, request_id: str, reason: str) -> None:
    """Fail a request: its unfinished steps take ``reason``; the request says which steps failed and why."""
    with tally.app_engine().begin() as db:
        outbox.fail_unfinished_steps(db, request_id, reason)
        outbox.finish_request(db, request_id, "failed", outbox.step_errors(db, request_id) or reason)


def _run_failure(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """Why a run failed, from its events: a step's failure description, or run monitoring's message."""
    for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.step_failure_data.user_failure_data if record.dagster_event else None
        if error is not None and error.description:
            return error.description
    # No step said why: the run worker died (killed, out of memory, machine lost). The code server that started it
    # says how it ended; on a lost machine run monitoring fails the run once it outlives max_runtime_seconds
    # (dagster.yaml), and its canceling or failure message says so.
    for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        message = record.dagster_event.message if record.dagster_event else None
        if message and "terminated by signal" in message:
            return f"the run failed: {message}"
    for event_type in (
        dg.DagsterEventType.RUN_CANCELING,
        dg.DagsterEventType.RUN_CANCELED,
        dg.DagsterEventType.RUN_FAILURE,
    ):
        for record in instance.all_logs(run.run_id, of_type=event_type):
            if record.dagster_event and record.dagster_event.message:
                return f"the run failed: {record.dagster_event.message}"
    return None if run.status == dg.DagsterRunStatus.SUCCESS else "the run failed"


# The sensor daemon wakes every 5 s (its loop, not a setting): an interval below that makes every wake-up a tick,
# where 5 would skip every other one whose previous tick ended a moment later, and a request would wait up to 10 s.
@dg.sensor(
    name="run_requests_sensor",
    minimum_interval_seconds=2,
    jobs=[client_refresh_job, *client_marts_jobs],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Hands sync and backfill requests written by the API to Dagster, one run each, and follows them.",
)
def run_requests_sensor(context: dg.SensorEvaluationContext, tally: TallyResource) -> dg.SensorResult:
    """Turn pending run requests into runs and settle running ones whose runs ended without an outcome."""
    now = datetime.now().astimezone()
    with tally.app_engine().begin() as db:
        companies = store.companies_with_connections(db)
        pending, running = outbox.pending_requests(db), outbox.running_requests(db)
    add_clients(context.instance, companies)
    run_requests: list[dg.RunRequest] = []
    for request in pending:
        run_requests.extend(hand_over(context, tally, request, now))
    for request in running:
        run_requests.extend(follow(context, tally, request))
    return dg.SensorResult(run_requests=run_requests)
