"""Raw platform tables as Dagster assets: one multi-asset per platform, partitioned by client x local day.

Each run reads the client's connection, decrypts its credentials inside the run (never in run config), loads the
partition range with the platform's dlt source into ``raw_<platform>``, and then removes rows of that range the
platform no longer returns, so a re-run replaces exactly that client's days.
"""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dlt.pipeline.exceptions import PipelineStepFailed

from orchestration.partitions import ClientDays, client_day_partitions_def, client_days
from orchestration.resources import TallyResource
from pipelines.loading import platform_pipeline
from pipelines.registry import get_platform
from tally.errors import PlatformAuthError, PlatformError
from warehouse import connections as store

WAREHOUSE_POOL = "warehouse_writer"
OWNERS = ["team:data-engineering"]
RAW_TABLES: dict[str, dict[str, str]] = {
    "meta_ads": {
        "campaign_daily": "Meta Ads insights, one row per campaign per local day, as the Graph API sends them.",
        "campaigns": "Meta Ads campaigns: name, status, objective, budgets in minor units.",
    },
    "google_ads": {
        "campaign_daily": "Google Ads campaign metrics per local day (GAQL), money in micros.",
        "campaigns": "Google Ads campaigns: name, status, channel type, daily budget in micros.",
    },
    "tiktok_ads": {
        "campaign_daily": "TikTok Ads integrated report, one row per campaign per local day.",
        "campaigns": "TikTok Ads campaigns: name, status, objective, budget and budget mode.",
    },
    "shopify": {
        "orders": "Shopify orders as the Admin API sends them, with the shop's local date.",
        "daily_sales": "Shopify orders and revenue per local day (zeros included), test and cancelled excluded.",
        "coverage": "Shopify: per requested day, whether the token could read that day's orders.",
    },
    "ga4": {
        "traffic_daily": "GA4 sessions, key events and revenue per day, session campaign and source/medium.",
    },
}
# Tables whose days may come back with no rows at all (a campaign restated to nothing): after a load, rows of the
# run's days that the load did not write are removed. Shopify's daily_sales has a row for every visible day, and
# days a token cannot see must keep what an earlier token loaded, so Shopify is left to the merge alone.
REPLACED_BY_RANGE = {"campaign_daily", "traffic_daily"}


def raw_asset_key(platform: str, table: str) -> dg.AssetKey:
    """Asset keys mirror where the data lives: ``raw/<platform>/<table>``."""
    return dg.AssetKey(["raw", platform, table])


def warehouse_kind() -> str:
    """The warehouse engine, for the asset's kinds tag."""
    from tally.settings import Settings

    return "postgres" if Settings().warehouse_url else "duckdb"


def platform_raw_assets(platform: str) -> dg.AssetsDefinition:
    """The multi-asset that loads one platform's raw tables."""
    specs = [
        dg.AssetSpec(
            raw_asset_key(platform, table),
            description=description,
            group_name=platform,
            kinds={"dlt", warehouse_kind()},
            owners=OWNERS,
            partitions_def=client_day_partitions_def,
        )
        for table, description in RAW_TABLES[platform].items()
    ]

    @dg.multi_asset(
        name=f"{platform}_raw",
        specs=specs,
        partitions_def=client_day_partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def load(context: dg.AssetExecutionContext, tally: TallyResource) -> Iterator[dg.MaterializeResult]:
        yield from load_platform(context, tally, platform)

    load.__doc__ = f"Load {get_platform(platform).display_name} raw tables for one client's days."
    return load


def load_platform(
    context: dg.AssetExecutionContext, tally: TallyResource, platform: str
) -> Iterator[dg.MaterializeResult]:
    """Run the platform's source over the run's partitions and report what was loaded."""
    span = client_days(context)
    with tally.app_engine().begin() as db:
        connection = store.connected_connection(db, span.company_id, platform)
    if connection is None:
        context.log.info(f"{span.company_id} has no active {platform} connection: nothing to load")
        yield from _results(platform, {"skipped": f"no active {platform} connection", **_span_metadata(span)})
        return
    started = time.monotonic()
    row_counts = _load(context, tally, platform, span, connection)
    metadata = {"account_id": connection["account_id"], "duration_s": round(time.monotonic() - started, 2)}
    for table in RAW_TABLES[platform]:
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(platform, table),
            metadata={"rows": row_counts.get(table, 0), **metadata, **_span_metadata(span)},
        )


def _load(
    context: dg.AssetExecutionContext,
    tally: TallyResource,
    platform: str,
    span: ClientDays,
    connection: dict[str, Any],
) -> dict[str, int]:
    settings = tally.settings
    spec = get_platform(platform)
    credentials = spec.credentials_model.model_validate(tally.vault().decrypt(connection["credentials_encrypted"]))
    working_dir = settings.data_dir / "dlt" / "runs" / context.run_id
    _remove_abandoned_working_dirs(context, working_dir.parent)
    pipeline = platform_pipeline(platform, span.company_id, settings, working_dir=working_dir)
    source = spec.source(
        credentials, start_date=span.start, end_date=span.end, company_id=span.company_id, settings=settings
    )
    try:
        info = pipeline.run(source)
        row_counts = {
            table: count
            for table, count in pipeline.last_trace.last_normalize_info.row_counts.items()
            if not table.startswith("_dlt")
        }
        _remove_stale_rows(pipeline, platform, span, info.loads_ids)
    except PipelineStepFailed as exc:
        error = _platform_error(exc)
        message = error.message if error else f"{spec.display_name}: the load failed ({type(exc.exception).__name__})"
        with tally.app_engine().begin() as db:
            store.record_sync(db, connection["id"], message, auth_failed=isinstance(error, PlatformAuthError))
        raise dg.Failure(description=message) from None
    finally:
        shutil.rmtree(working_dir, ignore_errors=True)
    with tally.app_engine().begin() as db:
        store.record_sync(db, connection["id"], None)
    return row_counts


def _remove_abandoned_working_dirs(context: dg.AssetExecutionContext, runs_dir: Path) -> None:
    """Remove the dlt working folders of runs that ended without removing their own: a killed run worker never
    reaches its ``finally``. Only runs this instance knows to be finished; a folder of an unknown run is left."""
    if not runs_dir.is_dir():
        return
    for folder in runs_dir.iterdir():
        run = context.instance.get_run_by_id(folder.name) if folder.name != context.run_id else None
        if run is not None and run.is_finished:
            shutil.rmtree(folder, ignore_errors=True)


def _remove_stale_rows(pipeline: Any, platform: str, span: ClientDays, load_ids: list[str]) -> None:
    """Delete rows of the run's days that this load did not write: days the platform now returns nothing for."""
    if not load_ids:
        return
    placeholders = ", ".join(["%s"] * len(load_ids))
    with pipeline.sql_client() as client:
        for table in RAW_TABLES[platform]:
            if table not in REPLACED_BY_RANGE or not client.has_dataset():
                continue
            name = client.make_qualified_table_name(table)
            client.execute_sql(
                f"DELETE FROM {name} WHERE company_id = %s AND date BETWEEN %s AND %s "
                f"AND _dlt_load_id NOT IN ({placeholders})",
                span.company_id,
                span.start,
                span.end,
                *load_ids,
            )


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


def _results(platform: str, metadata: dict[str, Any]) -> Iterator[dg.MaterializeResult]:
    for table in RAW_TABLES[platform]:
        yield dg.MaterializeResult(asset_key=raw_asset_key(platform, table), metadata=metadata)


raw_assets = [platform_raw_assets(platform) for platform in RAW_TABLES]
