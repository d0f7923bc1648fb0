"""Raw platform tables as Dagster assets: one multi-asset per platform, partitioned by client x local day.

Loading is two steps, so that only writing holds the DuckDB writer slot: ``fetch_platform`` reads the client's
connection, decrypts its credentials inside the run (never in run config), fetches the days from the platform and
normalises them to dlt load packages, then checks the connection's health (token expiry, scopes, the budget the
platform reported) and stores it; ``write_platform`` loads them into ``raw_<platform>`` and removes rows of
those days the platform no longer returns, so a re-run replaces exactly that client's days.

Every wait made for the platform's budget (a throttle's ``Retry-After``, Google's ``retryDelay``, Meta's time to
regain access, a nearly full Shopify bucket) is in the materializations' metadata: ``budget_wait_s`` in all and
``budget_waits``, each wait's seconds and the platform's reason.
"""

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import dagster as dg
from dlt.pipeline.exceptions import PipelineStepFailed

from orchestration.connection_health import check_health
from orchestration.partitions import (
    CLIENT_SHARDS,
    ClientDays,
    client_days,
    client_shard,
    shard_client_day_def,
    shard_name,
)
from orchestration.resources import TallyResource
from pipelines.budget import Budget, BudgetWait
from pipelines.loading import platform_pipeline
from pipelines.registry import PLATFORMS, get_platform
from tally.errors import PlatformAuthError, PlatformError
from warehouse import connections as store
from warehouse.models import held_open
from warehouse.revisions import LoadRevisions, revision_capture

WAREHOUSE_POOL = "warehouse_writer"
# A long backfill is fetched this many days at a time, so its progress moves as it goes.
FETCH_CHUNK_DAYS = 30
OWNERS = ["team:data-engineering"]
# Per platform, its raw tables and their descriptions, as the platform's own PlatformSpec lists them.
RAW_TABLES: dict[str, dict[str, str]] = {
    platform: {table.name: table.description for table in spec.raw_tables} for platform, spec in PLATFORMS.items()
}
# Tables whose days may come back with no rows at all (a campaign restated to nothing): after a load, rows of the
# run's days that the load did not write are removed. Shopify's daily_sales has a row for every visible day, and
# days a token cannot see must keep what an earlier token loaded, so Shopify is left to the merge alone.
REPLACED_BY_RANGE = {"campaign_daily", "traffic_daily"}


def raw_asset_key(platform: str, table: str, shard: int = 0, shards: int = CLIENT_SHARDS) -> dg.AssetKey:
    """Asset keys mirror where the data lives: ``raw/<platform>/<table>``, and with clients split across shards
    (``TALLY_CLIENT_SHARDS``) one asset per shard below it, ``raw/<platform>/<table>/clients_<k>``."""
    name = shard_name(shard, shards)
    return dg.AssetKey(["raw", platform, table] if name is None else ["raw", platform, table, name])


def client_raw_asset_key(platform: str, table: str, company_id: str, shards: int = CLIENT_SHARDS) -> dg.AssetKey:
    """The raw asset that holds a client's days of a platform table: the one of the client's shard."""
    return raw_asset_key(platform, table, client_shard(company_id, shards), shards)


def warehouse_pool() -> str | None:
    """The concurrency pool of steps that write the warehouse: DuckDB allows one writing process per file, so its
    writers share ``warehouse_writer`` (size 1 in dagster.yaml); PostgreSQL takes concurrent writers (each dlt
    pipeline stages in its own schema), so there the writers run side by side."""
    from tally.settings import Settings

    return None if Settings().warehouse_url else WAREHOUSE_POOL


def warehouse_kind() -> str:
    """The warehouse engine, for the asset's kinds tag."""
    from tally.settings import Settings

    return "postgres" if Settings().warehouse_url else "duckdb"


def platform_raw_assets(platform: str, shard: int = 0, shards: int = CLIENT_SHARDS) -> dg.AssetsDefinition:
    """The multi-asset that loads one platform's raw tables for one shard of the clients (for a data engineer's
    own materializations and backfills; requests from the API run ``client_refresh_job``, which loads through the
    same two functions). A shard's assets are partitioned by its own clients x day, so the asset page offers the
    shard's clients only."""
    partitions_def = shard_client_day_def(shard, shards)
    specs = [
        dg.AssetSpec(
            raw_asset_key(platform, table, shard, shards),
            description=description,
            group_name=platform,
            kinds={"dlt", warehouse_kind()},
            owners=OWNERS,
            partitions_def=partitions_def,
        )
        for table, description in RAW_TABLES[platform].items()
    ]
    name = shard_name(shard, shards)

    @dg.multi_asset(
        name=f"{platform}_raw" if name is None else f"{platform}_raw_{name}",
        specs=specs,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=warehouse_pool(),
    )
    def load(context: dg.AssetExecutionContext, tally: TallyResource) -> Iterator[dg.MaterializeResult]:
        span = client_days(context)
        remove_abandoned_working_dirs(context, tally)
        fetched = fetch_platform(context, tally, platform, span)
        written = write_platform(context, tally, fetched)
        for table, metadata in written.metadata_by_table().items():
            yield dg.MaterializeResult(asset_key=raw_asset_key(platform, table, shard, shards), metadata=metadata)

    load.__doc__ = f"Load {get_platform(platform).display_name} raw tables for one client's days."
    return load


@dataclass(frozen=True)
class FetchedDays:
    """One platform's days of one client, fetched and normalised in a run's dlt working folder, not yet written."""

    platform: str
    span: ClientDays
    connection_id: str | None
    account_id: str | None
    working_dir: str
    row_counts: dict[str, int]
    duration_s: float
    skipped: str | None = None
    # Why the platform could not be fetched (its reason as the request shows it); nothing is written for it.
    failed: str | None = None
    budget_waits: tuple[BudgetWait, ...] = ()
    # Whether the connection's health needs attention (its status is then ``warning``), and its warnings.
    warning: bool = False
    health_warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class WrittenDays:
    """What one platform's write put in the warehouse, as asset metadata per raw table."""

    fetched: FetchedDays
    duration_s: float
    changes: LoadRevisions = LoadRevisions(0)

    def metadata_by_table(self) -> dict[str, dict[str, Any]]:
        fetched = self.fetched
        common: dict[str, Any] = _span_metadata(fetched.span)
        if fetched.skipped:
            return {table: {"skipped": fetched.skipped, **common} for table in RAW_TABLES[fetched.platform]}
        common |= {
            "account_id": fetched.account_id,
            "fetch_duration_s": fetched.duration_s,
            "write_duration_s": self.duration_s,
            "revisions": self.changes.revisions,
            "unchanged_days": len(self.changes.unchanged_days),
            "budget_wait_s": round(sum(wait.seconds for wait in fetched.budget_waits), 3),
            "budget_waits": dg.MetadataValue.json(
                [{"seconds": wait.seconds, "reason": wait.reason} for wait in fetched.budget_waits]
            ),
            "health_warnings": dg.MetadataValue.json(list(fetched.health_warnings)),
        }
        return {table: {"rows": fetched.row_counts.get(table, 0), **common} for table in RAW_TABLES[fetched.platform]}


ProgressCallback = Callable[[int], None]


def fetch_platform(
    context: dg.OpExecutionContext,
    tally: TallyResource,
    platform: str,
    span: ClientDays,
    on_progress: ProgressCallback | None = None,
) -> FetchedDays:
    """Fetch a client's days from the platform and normalise them, holding no warehouse lock.

    Days are fetched in chunks of ``FETCH_CHUNK_DAYS`` so a long backfill reports its progress (days fetched)
    as it goes; each chunk becomes one dlt load package, all written by ``write_platform``.
    """
    with tally.app_engine().begin() as db:
        connection = store.connected_connection(db, span.company_id, platform)
    working_dir = run_working_dir(tally, context.run_id)
    if connection is None:
        context.log.info(f"{span.company_id} has no active {platform} connection: nothing to load")
        skipped = f"no active {platform} connection"
        return FetchedDays(platform, span, None, None, str(working_dir), {}, 0.0, skipped=skipped)
    started = time.monotonic()
    spec = get_platform(platform)
    credentials = spec.credentials_model.model_validate(tally.vault().decrypt(connection["credentials_encrypted"]))
    pipeline = platform_pipeline(platform, span.company_id, tally.settings, working_dir=working_dir)
    row_counts: dict[str, int] = {}
    budget = Budget()
    try:
        for chunk in day_chunks(span, FETCH_CHUNK_DAYS):
            source = spec.source(
                credentials,
                start_date=chunk.start,
                end_date=chunk.end,
                company_id=span.company_id,
                settings=tally.settings,
                budget=budget,
            )
            pipeline.extract(source)
            for table, count in pipeline.normalize().row_counts.items():
                if not table.startswith("_dlt"):
                    row_counts[table] = row_counts.get(table, 0) + count
            if on_progress:
                on_progress((chunk.end - span.start).days + 1)
    except PipelineStepFailed as exc:
        shutil.rmtree(working_dir / pipeline.pipeline_name, ignore_errors=True)
        _fail(tally, spec.display_name, connection["id"], exc)
    warning, warnings = check_health(context, tally, spec, credentials, connection, budget)
    if budget.waits:
        reasons = "; ".join(f"{wait.seconds} s: {wait.reason}" for wait in budget.waits)
        context.log.info(f"{platform}: waited {budget.waited_seconds()} s for the platform's budget ({reasons})")
    return FetchedDays(
        platform,
        span,
        connection["id"],
        connection["account_id"],
        str(working_dir),
        row_counts,
        round(time.monotonic() - started, 2),
        budget_waits=tuple(budget.waits),
        warning=warning,
        health_warnings=tuple(warnings),
    )


def write_platform(context: dg.OpExecutionContext, tally: TallyResource, fetched: FetchedDays) -> WrittenDays:
    """Write fetched days into ``raw_<platform>`` and clear what the platform no longer returns for them.

    This is the step that holds the ``warehouse_writer`` pool on DuckDB. The run's days are cleared whenever the
    platform answered for them, also when it answered with no rows (a campaign restated to nothing).
    """
    if fetched.skipped or fetched.connection_id is None:
        return WrittenDays(fetched, 0.0)
    started = time.monotonic()
    spec = get_platform(fetched.platform)
    span = fetched.span
    working_dir = Path(fetched.working_dir)
    pipeline = platform_pipeline(fetched.platform, span.company_id, tally.settings, working_dir=working_dir)
    try:
        # The client's rows of these days are captured before the load replaces them and compared after it
        # (sql/revisions/), in this step, so the revision log sees exactly what this load changed.
        with (
            held_open(tally.settings),
            revision_capture(tally.settings, span.company_id, fetched.platform, span.start, span.end) as capture,
        ):
            info = pipeline.load()
            _remove_stale_rows(pipeline, fetched.platform, span, info.loads_ids)
            changes = capture.after()
    except PipelineStepFailed as exc:
        _fail(tally, spec.display_name, fetched.connection_id, exc)
    finally:
        shutil.rmtree(working_dir / pipeline.pipeline_name, ignore_errors=True)
        _remove_if_empty(working_dir)
    if changes.revisions:
        context.log.info(f"{fetched.platform}: the re-pull revised {changes.revisions} numbers of {span.company_id}")
    with tally.app_engine().begin() as db:
        store.record_sync(db, fetched.connection_id, None, loaded_through=span.end, warning=fetched.warning)
    return WrittenDays(fetched, round(time.monotonic() - started, 2), changes)


def day_chunks(span: ClientDays, days: int) -> list[ClientDays]:
    """The span cut into consecutive ranges of at most ``days`` days, oldest first."""
    starts = range(0, span.days, days)
    return [
        ClientDays(
            span.company_id,
            span.start + timedelta(days=offset),
            min(span.end, span.start + timedelta(days=offset + days - 1)),
        )
        for offset in starts
    ]


def _fail(tally: TallyResource, display_name: str, connection_id: str, exc: PipelineStepFailed) -> NoReturn:
    """Record a failed load on its connection and fail the step with a message that names the platform and cause."""
    error = _platform_error(exc)
    message = error.message if error else f"{display_name}: the load failed ({type(exc.exception).__name__})"
    with tally.app_engine().begin() as db:
        store.record_sync(db, connection_id, message, auth_failed=isinstance(error, PlatformAuthError))
    raise dg.Failure(description=message) from None


def _remove_if_empty(folder: Path) -> None:
    """Remove a run's dlt folder once its last platform is written (another platform may still be using it)."""
    with contextlib.suppress(OSError):  # not empty: another platform of the run is still fetching or writing
        folder.rmdir()


def run_working_dir(tally: TallyResource, run_id: str) -> Path:
    """The dlt working folder of a run's fetches and writes (one pipeline folder per platform inside)."""
    return tally.settings.data_dir / "dlt" / "runs" / run_id


def remove_abandoned_working_dirs(context: dg.OpExecutionContext, tally: TallyResource) -> None:
    """Remove the dlt working folders of runs that ended without removing their own: a killed run worker never
    reaches its ``finally``. Only runs this instance knows to be finished; a folder of an unknown run is left.
    Called once per run, before its fetches."""
    runs_dir = run_working_dir(tally, context.run_id).parent
    if not runs_dir.is_dir():
        return
    for folder in runs_dir.iterdir():
        run = context.instance.get_run_by_id(folder.name) if folder.name != context.run_id else None
        if run is not None and run.is_finished:
            shutil.rmtree(folder, ignore_errors=True)


def _remove_stale_rows(pipeline: Any, platform: str, span: ClientDays, load_ids: list[str]) -> None:
    """Delete rows of the run's days that this load did not write: days the platform now returns nothing for.

    Runs whenever the platform answered, also when it answered with no rows at all for the range.
    """
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            return
        for table in RAW_TABLES[platform]:
            if table not in REPLACED_BY_RANGE or not _has_table(client, table):
                continue
            name = client.make_qualified_table_name(table)
            written = f" AND _dlt_load_id NOT IN ({', '.join(['%s'] * len(load_ids))})" if load_ids else ""
            client.execute_sql(
                f"DELETE FROM {name} WHERE company_id = %s AND date BETWEEN %s AND %s{written}",
                span.company_id,
                span.start,
                span.end,
                *load_ids,
            )


def _has_table(client: Any, table: str) -> bool:
    """Whether the platform's dataset already holds ``table`` (a first load with no rows creates none)."""
    rows = client.execute_sql(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        client.dataset_name,
        table,
    )
    return bool(rows)


def _platform_error(exc: BaseException) -> PlatformError | None:
    """The platform error at the root of a dlt step failure, if that is what it was."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PlatformError):
            return seen
        seen = getattr(seen, "exception", None) or seen.__cause__ or seen.__context__
    return None


def _span_metadata(span: ClientDays) -> dict[str, Any]:
    return {
        "company_id": span.company_id,
        "start_date": span.start.isoformat(),
        "end_date": span.end.isoformat(),
        "days": span.days,
    }


def all_raw_assets(shards: int = CLIENT_SHARDS) -> list[dg.AssetsDefinition]:
    """Every platform's raw multi-asset, one per shard of the clients."""
    return [platform_raw_assets(platform, shard, shards) for platform in RAW_TABLES for shard in range(shards)]


def shard_raw_asset_keys(shard: int, shards: int = CLIENT_SHARDS) -> list[dg.AssetKey]:
    """Every raw table's asset key of one shard."""
    return [
        raw_asset_key(platform, table, shard, shards) for platform, tables in RAW_TABLES.items() for table in tables
    ]


def all_raw_asset_keys(shards: int = CLIENT_SHARDS) -> list[dg.AssetKey]:
    """Every raw table's asset key, of every shard."""
    return [key for shard in range(shards) for key in shard_raw_asset_keys(shard, shards)]


raw_assets = all_raw_assets()
