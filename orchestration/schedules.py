"""The daily refresh: a sync request for every company with connections, through the same outbox as the API.

The schedule runs a small job that writes the requests; the run_requests sensor then launches each over every
platform's lookback window ending yesterday in the account's time zone, so late-attributed conversions are
restated. Going through the outbox keeps one path (and one record) for every load, whoever asked for it.
"""

import dagster as dg

from orchestration.assets.insights import INSIGHT_KEY
from orchestration.partitions import CLIENTS, clients_partitions_def
from orchestration.resources import TallyResource
from warehouse import connections as store
from warehouse import run_requests as outbox

SCHEDULE_USER = "schedule:daily_refresh"


@dg.op(description="Write one sync request per company with active connections.")
def queue_daily_syncs(context: dg.OpExecutionContext, tally: TallyResource) -> int:
    """Queue the lookback syncs; returns how many companies were queued.

    A company whose last sync is still pending or running is not queued again: its sync in flight already
    re-pulls the lookback windows.
    """
    queued = 0
    with tally.app_engine().begin() as db:
        companies = store.companies_with_connections(db)
        for company_id in companies:
            if outbox.active_request(db, company_id, "sync") is not None:
                continue
            outbox.create_request(db, company_id, "sync", outbox.connected_platforms(db, company_id), SCHEDULE_USER)
            queued += 1
    context.log.info(f"queued lookback syncs for {queued} of {len(companies)} companies")
    context.add_output_metadata({"queued": queued, "still_running": len(companies) - queued})
    return queued


@dg.job(description="Queue a lookback sync of every active connection (launched by run_requests_sensor).")
def daily_refresh_job() -> None:
    queue_daily_syncs()


daily_refresh_schedule = dg.ScheduleDefinition(
    name="daily_refresh_schedule",
    job=daily_refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning at 06:00 UTC, queue a lookback sync of every active connection.",
)


weekly_insight_job = dg.define_asset_job(
    name="weekly_insight_job",
    selection=[INSIGHT_KEY],
    partitions_def=clients_partitions_def,
    description="Write one client's weekly insight from its served marts.",
)


@dg.schedule(
    name="weekly_insight_schedule",
    job=weekly_insight_job,
    cron_schedule="0 7 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every Monday at 07:00 UTC (after the daily refresh), write each client's insight on last week.",
)
def weekly_insight_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """One run per client partition, keyed by client and week so a tick never writes a week twice."""
    week = context.scheduled_execution_time.date().isoformat() if context.scheduled_execution_time else "now"
    return [
        dg.RunRequest(run_key=f"insight-{company_id}-{week}", partition_key=company_id)
        for company_id in context.instance.get_dynamic_partitions(CLIENTS)
    ]
