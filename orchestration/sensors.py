"""The run_requests sensor: turns the API's outbox rows into Dagster backfills and follows them to the end.

Each tick it (1) keeps the ``clients`` dynamic partitions in step with the companies that have connections,
(2) turns every pending request into one backfill per platform over that platform's window (a 30/60/90-day
backfill, or the sync lookback), ending yesterday in the account's time zone, tagged with the company, platform
and request, and (3) records on running requests how far each platform's backfill has come.
"""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

from orchestration.assets.marts import mart_asset_key
from orchestration.assets.raw import RAW_TABLES, raw_asset_key
from orchestration.partitions import CLIENTS, partition_key
from orchestration.resources import TallyResource
from warehouse import connections as store
from warehouse import run_requests as outbox
from warehouse.models import MART_MODELS

TAG_COMPANY, TAG_PLATFORM, TAG_REQUEST = "tally/company_id", "tally/platform", "tally/request_id"
REQUEST_SELECTION = dg.AssetSelection.assets(
    *[raw_asset_key(p, t) for p, tables in RAW_TABLES.items() for t in tables],
    *[mart_asset_key(name) for name in MART_MODELS],
)
DONE = {BulkActionStatus.COMPLETED_SUCCESS: "succeeded", BulkActionStatus.COMPLETED: "succeeded"}
FAILED = {BulkActionStatus.FAILED, BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.CANCELED}


def request_window(
    request: dict[str, Any], platform: str, timezone: str | None, lookback: dict[str, int], now: datetime
) -> tuple[date, date]:
    """The days a request loads for a platform: N days ending yesterday in the account's own time zone."""
    yesterday = now.astimezone(ZoneInfo(timezone or "UTC")).date() - timedelta(days=1)
    days = request["days"] if request["kind"] == "backfill" else lookback.get(platform, 7)
    return yesterday - timedelta(days=days - 1), yesterday


def platform_subset(
    context: dg.SensorEvaluationContext, platform: str, company_id: str, start: date, end: date
) -> AssetGraphSubset:
    """Every raw asset of a platform over one client's days, as a backfill target."""
    keys = {
        AssetKeyPartitionKey(raw_asset_key(platform, table), partition_key(company_id, start + timedelta(days=n)))
        for table in RAW_TABLES[platform]
        for n in range((end - start).days + 1)
    }
    return AssetGraphSubset.from_asset_partition_set(keys, context.repository_def.asset_graph)


def launch(
    context: dg.SensorEvaluationContext, tally: TallyResource, request: dict[str, Any], now: datetime
) -> tuple[list[dg.RunRequest], dict[str, Any]]:
    """One backfill run request per platform of a pending request, and the initial progress."""
    run_requests, progress = [], {}
    with tally.app_engine().begin() as db:
        for platform in request["platforms"]:
            connection = store.connected_connection(db, request["company_id"], platform)
            if connection is None:
                progress[platform] = {
                    "status": "skipped",
                    "partitions_done": 0,
                    "partitions_total": 0,
                    "error": "no active connection",
                }
                continue
            start, end = request_window(request, platform, connection["timezone"], tally.settings.lookback_days, now)
            tags = {TAG_COMPANY: request["company_id"], TAG_PLATFORM: platform, TAG_REQUEST: request["id"]}
            subset = platform_subset(context, platform, request["company_id"], start, end)
            run_requests.append(dg.RunRequest.for_asset_graph_subset(subset, tags=tags))
            progress[platform] = {
                "status": "running",
                "partitions_done": 0,
                "partitions_total": (end - start).days + 1,
                "error": None,
            }
    return run_requests, progress


def follow(context: dg.SensorEvaluationContext, request: dict[str, Any]) -> tuple[list[str], dict[str, Any], str]:
    """Read the request's backfills and runs from the instance: ids, per-platform progress, overall status."""
    backfills = context.instance.get_backfills(filters=BulkActionsFilter(tags={TAG_REQUEST: request["id"]}))
    progress = dict(request["progress"])
    for backfill in backfills:
        platform = backfill.tags.get(TAG_PLATFORM)
        if platform not in progress:
            continue
        entry = dict(progress[platform])
        if backfill.status in DONE:
            entry.update(status="succeeded", partitions_done=entry["partitions_total"])
        elif backfill.status in FAILED:
            entry.update(status="failed", error=_run_failure(context, request["id"], platform) or backfill.status.value)
        progress[platform] = entry
    states = {entry["status"] for entry in progress.values()}
    status = "running" if "running" in states else "failed" if "failed" in states else "succeeded"
    return [b.backfill_id for b in backfills], progress, status


def _run_failure(context: dg.SensorEvaluationContext, request_id: str, platform: str) -> str | None:
    """The failure message of a platform's run, which names the platform and the cause (never a credential)."""
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(
            tags={TAG_REQUEST: request_id, TAG_PLATFORM: platform}, statuses=[dg.DagsterRunStatus.FAILURE]
        ),
        limit=1,
    )
    if not runs:
        return None
    for record in context.instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.step_failure_data.user_failure_data
        if error is not None and error.description:
            return error.description
    # No step said why: the run worker died (killed, out of memory, machine lost) and run monitoring failed the run
    # once it outlived max_runtime_seconds (dagster.yaml); its canceling or failure message says so.
    for event_type in (dg.DagsterEventType.RUN_CANCELING, dg.DagsterEventType.RUN_FAILURE):
        for record in context.instance.all_logs(runs[0].run_id, of_type=event_type):
            if record.dagster_event and record.dagster_event.message:
                return f"the run failed: {record.dagster_event.message}"
    return "the run failed"


@dg.sensor(
    name="run_requests_sensor",
    minimum_interval_seconds=5,
    asset_selection=REQUEST_SELECTION,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches sync and backfill requests written by the API, and records their progress.",
)
def run_requests_sensor(context: dg.SensorEvaluationContext, tally: TallyResource) -> dg.SensorResult:
    """Turn pending run requests into backfills and follow running ones."""
    now = datetime.now().astimezone()
    with tally.app_engine().begin() as db:
        companies = store.companies_with_connections(db)
        pending, running = outbox.pending_requests(db), outbox.running_requests(db)
    known = set(context.instance.get_dynamic_partitions(CLIENTS))
    new_clients = [company for company in companies if company not in known]
    if new_clients:
        context.instance.add_dynamic_partitions(CLIENTS, new_clients)
    launched: list[dg.RunRequest] = []
    for request in pending:
        run_requests, progress = launch(context, tally, request, now)
        launched.extend(run_requests)
        with tally.app_engine().begin() as db:
            status = "running" if run_requests else "failed"
            outbox.mark_launched(db, request["id"], [], progress)
            if not run_requests:
                outbox.update_progress(db, request["id"], progress, status, "no platform left to load")
    for request in running:
        backfill_ids, progress, status = follow(context, request)
        with tally.app_engine().begin() as db:
            outbox.update_progress(db, request["id"], progress, status, _first_error(progress))
            outbox.record_backfills(db, request["id"], backfill_ids)
        if status != "running" and any(entry["status"] == "succeeded" for entry in progress.values()):
            launched.append(marts_run(request))
    return dg.SensorResult(run_requests=launched)


def marts_run(request: dict[str, Any]) -> dg.RunRequest:
    """Rebuild the marts once a request's loads are done (some platforms may have failed; the rest is new)."""
    return dg.RunRequest(
        run_key=f"marts-{request['id']}",
        asset_selection=[mart_asset_key(name) for name in MART_MODELS],
        tags={TAG_COMPANY: request["company_id"], TAG_REQUEST: request["id"]},
    )


def _first_error(progress: dict[str, Any]) -> str | None:
    errors = [
        f"{platform}: {entry['error']}"
        for platform, entry in progress.items()
        if entry.get("status") == "failed" and entry.get("error")
    ]
    return "; ".join(errors) or None
