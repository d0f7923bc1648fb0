"""One client's refresh as one Dagster run: every requested platform fetched, then written together with that
client's marts, then recorded.

A request (a sync or a backfill) used to cost a run per platform plus a marts run, each with its own process
start-up. Here it is one run of three steps on the in-process executor. ``fetch_days`` marks the request running
and fetches every platform of the plan at once, one thread each (HTTP and normalisation, no lock, so clients
fetch side by side too); ``write_days`` is the one step that holds the DuckDB ``warehouse_writer`` pool: it
writes each platform's days, then rebuilds and publishes the client's marts; ``record_days`` stores the raw
partitions' materializations and evaluates each platform's reconciliation check, outside the pool. Each step
records its progress on the request's step rows, and the marts publication records the request's final state,
so ``succeeded`` means the data is served.

A platform that fails is recorded as failed on its step row (with the platform's reason), the others are still
written and published, the request ends ``failed`` with that reason, and ``record_days`` fails the run with it.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import dagster as dg

from orchestration.assets.marts import client_mart_asset_key, marts_failure_reason, publish_client_marts
from orchestration.assets.raw import (
    FetchedDays,
    WrittenDays,
    client_raw_asset_key,
    fetch_platform,
    remove_abandoned_working_dirs,
    warehouse_pool,
    write_platform,
)
from orchestration.checks import reconciliation_evaluation
from orchestration.partitions import ClientDays, ensure_client_partition, partition_key
from orchestration.resources import TallyResource
from tally.run_tags import TAG_REQUEST
from warehouse import run_requests as outbox
from warehouse.models import MART_MODELS, held_open

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
    return {"ops": {"fetch_days": {"config": {"company_id": company_id, "windows": listed}}}}


@dataclass(frozen=True)
class ClientFetch:
    """What a refresh fetched: the client, and each platform's days (a failed one carries its reason)."""

    company_id: str
    fetched: list[FetchedDays]


@dg.op(
    out=dg.Out(ClientFetch, io_manager_key=IN_MEMORY),
    description="Fetch each platform's days of the client at once and normalise them; holds no warehouse lock.",
)
def fetch_days(context: dg.OpExecutionContext, tally: TallyResource, config: RefreshPlan) -> ClientFetch:
    """The platforms are fetched side by side, a thread each: a fetch mostly waits on the platform's API, and one
    step per platform ran them one after another on the in-process executor (five of about 0.8 s each, plus six
    events stored per step). A platform that cannot be fetched is recorded as failed on the request and handed on
    as such: the others are still written and published, and ``record_days`` fails the run with every reason."""
    request_id = context.run.tags.get(TAG_REQUEST)
    if request_id:
        with tally.app_engine().begin() as db:
            outbox.mark_running(db, request_id, context.run_id)
    # The sensor adds a new client to its shard's partitions; a client onboarded under another shard count is added
    # here, before its days and marts are recorded on its shard's assets.
    ensure_client_partition(context.instance, config.company_id)
    remove_abandoned_working_dirs(context, tally)
    spans = {
        window.platform: ClientDays(config.company_id, date.fromisoformat(window.start), date.fromisoformat(window.end))
        for window in config.windows
    }

    def fetch(platform: str) -> FetchedDays:
        span = spans[platform]
        _record(tally, request_id, platform, "running", partitions_done=0)

        def progress(days_fetched: int) -> None:
            _record(tally, request_id, platform, "running", partitions_done=days_fetched)

        try:
            return fetch_platform(context, tally, platform, span, on_progress=progress)
        except dg.Failure as failure:
            unfetched = FetchedDays(platform, span, None, None, "", {}, 0.0)
            return _failed(context, tally, request_id, unfetched, failure, "fetch")

    with ThreadPoolExecutor(max_workers=max(len(spans), 1), thread_name_prefix="fetch") as pool:
        fetched = list(pool.map(fetch, sorted(spans)))
    return ClientFetch(config.company_id, fetched)


@dataclass(frozen=True)
class ClientWrites:
    """What a refresh wrote: each platform's write (a failed one carries its reason), and why the marts were not
    published, if they were not."""

    written: list[WrittenDays]
    marts_error: str | None = None


@dg.op(
    out=dg.Out(ClientWrites, io_manager_key=IN_MEMORY),
    pool=warehouse_pool(),
    description="Write every fetched platform into its raw tables, then rebuild and publish the client's marts.",
)
def write_days(context: dg.OpExecutionContext, tally: TallyResource, client: ClientFetch) -> ClientWrites:
    """The one step of a refresh that holds the writer slot, claimed once for all of the client's platforms and
    its marts: a claim that waits is polled by Dagster at 1 s and more, so six claims per run (a write per
    platform, then the marts) left the slot idle between runs for most of a morning refresh (bench/refresh.py).
    The DuckDB file stays open for the whole step, so its many short transactions do not each open it again.
    The materializations are stored by ``record_days``, outside the slot."""
    with held_open(tally.settings):
        return _write_and_publish(context, tally, client)


def _write_and_publish(context: dg.OpExecutionContext, tally: TallyResource, client: ClientFetch) -> ClientWrites:
    """Each fetched platform written in turn (a failed one recorded as such), then the client's marts published."""
    request_id = context.run.tags.get(TAG_REQUEST)
    written: list[WrittenDays] = []
    for each in client.fetched:
        if each.failed:
            written.append(WrittenDays(each, 0.0))
            continue
        try:
            done = write_platform(context, tally, each)
        except dg.Failure as failure:
            written.append(WrittenDays(_failed(context, tally, request_id, each, failure, "write"), 0.0))
            continue
        status = "skipped" if each.skipped else "succeeded"
        _record(tally, request_id, each.platform, status, partitions_done=each.span.days, error=each.skipped)
        written.append(done)
    try:
        metadata = publish_client_marts(context, tally, [client.company_id], request_id)
    except Exception as exc:  # recorded on the request by publish_client_marts; the run fails in record_days
        reason = marts_failure_reason(exc)
        context.log.error(f"{client.company_id}: {reason}")
        return ClientWrites(written, marts_error=reason)
    for name in MART_MODELS:
        context.log_event(
            dg.AssetMaterialization(
                asset_key=client_mart_asset_key(name, client.company_id), partition=client.company_id, metadata=metadata
            )
        )
    return ClientWrites(written)


@dg.op(
    out=dg.Out(dg.Nothing, io_manager_key=IN_MEMORY),
    description="Materialize the raw partitions the writes changed, reconcile each platform with its own totals.",
)
def record_days(context: dg.OpExecutionContext, tally: TallyResource, writes: ClientWrites) -> None:
    """Outside the writer slot: storing an event per table and day (about 15 ms each on SQLite storage) and asking
    each platform for its account-level totals (orchestration/checks.py, a WARN on the raw asset's Checks tab and
    ``reconciled: false`` in freshness when they differ) would otherwise hold up every other client's write.
    Fails the run, with every reason, when a platform or the marts failed (the request already says so)."""
    failures = {}
    for each in writes.written:
        if each.fetched.failed:
            failures[each.fetched.platform] = each.fetched.failed
            continue
        _report_raw_partitions(context, each)
        evaluation = reconciliation_evaluation(tally, each)
        if evaluation is not None:
            context.log_event(evaluation)
    if writes.marts_error:
        failures["marts"] = writes.marts_error
    if failures:
        raise dg.Failure(
            description="; ".join(f"{step}: {reason}" for step, reason in failures.items()),
            metadata={step: dg.MetadataValue.text(reason) for step, reason in failures.items()},
        )


@dg.job(
    name=JOB_NAME,
    executor_def=dg.in_process_executor,
    description="One client's sync or backfill: each platform fetched and written, then the client's marts published.",
)
def client_refresh_job() -> None:
    record_days(write_days(fetch_days()))


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


def _failed(
    context: dg.OpExecutionContext,
    tally: TallyResource,
    request_id: str | None,
    days: FetchedDays,
    failure: dg.Failure,
    step: str,
) -> FetchedDays:
    """Record a platform's failed fetch or write on its step row and the run's log; the days, marked failed with
    the platform's reason, for the steps after it."""
    reason = failure.description or f"{days.platform}: the {step} failed"
    context.log.error(reason)
    _record(tally, request_id, days.platform, "failed", error=reason)
    return replace(days, failed=reason)


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
