"""Marts as Dagster assets, partitioned by client: one client's refresh rebuilds and publishes that client only.

The rows come from the SQL models in ``sql/`` (``warehouse.serving.refresh_marts``). A request's own refresh
runs as the last step of ``client_refresh_job``; this asset is what a data engineer materializes (some clients,
or every client in one run for a model change, which rebuilds the whole tables) and what the run_requests sensor
launches on its own when a platform of a request failed but others loaded.

With clients split across shards (``TALLY_CLIENT_SHARDS``, see ``orchestration/partitions.py``) each shard has its
own pair of mart assets, ``marts/<table>/clients_<k>``, partitioned by that shard's clients and fed by that
shard's raw tables: the tables are the same two, and each shard's assets record its clients' publications.
"""

import time
from typing import Any

import dagster as dg

from orchestration.assets.raw import OWNERS, shard_raw_asset_keys, warehouse_kind, warehouse_pool
from orchestration.partitions import CLIENT_SHARDS, client_shard, shard_clients_def, shard_name
from orchestration.resources import TallyResource
from tally.run_tags import MARTS_STEP, TAG_REQUEST
from warehouse import run_requests as outbox
from warehouse.models import MART_MODELS
from warehouse.serving import refresh_marts

MART_DESCRIPTIONS = {
    "campaign_daily": "Every ad platform's campaigns per local day, in major currency units, with campaign metadata.",
    "metric_daily": "Additive metrics per company, metric, day and currency: what the results routes aggregate.",
}
# A raw table's (client, day) partitions feed that client's marts partition.
CLIENT_OF_DAY = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="client")


def mart_asset_key(name: str, shard: int = 0, shards: int = CLIENT_SHARDS) -> dg.AssetKey:
    """Asset keys mirror where the data lives: ``marts/<table>``, and with clients split across shards one asset
    per shard below it, ``marts/<table>/clients_<k>``."""
    shard_part = shard_name(shard, shards)
    return dg.AssetKey(["marts", name] if shard_part is None else ["marts", name, shard_part])


def client_mart_asset_key(name: str, company_id: str, shards: int = CLIENT_SHARDS) -> dg.AssetKey:
    """The mart asset that records a client's publications: the one of the client's shard."""
    return mart_asset_key(name, client_shard(company_id, shards), shards)


def all_mart_asset_keys(shards: int = CLIENT_SHARDS) -> list[dg.AssetKey]:
    """Every mart table's asset key, of every shard."""
    return [mart_asset_key(name, shard, shards) for name in MART_MODELS for shard in range(shards)]


def shard_marts(shard: int, shards: int = CLIENT_SHARDS) -> dg.AssetsDefinition:
    """The marts of one shard's clients, downstream of that shard's raw tables client by client."""
    raw_keys = shard_raw_asset_keys(shard, shards)
    partitions_def = shard_clients_def(shard, shards)
    shard_part = shard_name(shard, shards)

    @dg.multi_asset(
        name="marts" if shard_part is None else f"marts_{shard_part}",
        specs=[
            dg.AssetSpec(
                mart_asset_key(name, shard, shards),
                description=MART_DESCRIPTIONS[name],
                group_name="marts",
                kinds={"sql", warehouse_kind()},
                owners=OWNERS,
                partitions_def=partitions_def,
                deps=[dg.AssetDep(key, partition_mapping=CLIENT_OF_DAY) for key in raw_keys],
            )
            for name in MART_MODELS
        ],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=warehouse_pool(),
    )
    def marts(context: dg.AssetExecutionContext, tally: TallyResource):
        """Rebuild and publish the marts of the run's clients; every client in one run (one shard) rebuilds the
        whole tables."""
        companies = list(context.partition_keys)
        every_client = shard_part is None and set(companies) >= set(
            context.instance.get_dynamic_partitions(partitions_def.name or "")
        )
        metadata = publish_client_marts(
            context, tally, None if every_client else companies, context.run.tags.get(TAG_REQUEST)
        )
        for name in MART_MODELS:
            yield dg.MaterializeResult(asset_key=mart_asset_key(name, shard, shards), metadata=metadata)

    return marts


def all_shard_marts(shards: int = CLIENT_SHARDS) -> list[dg.AssetsDefinition]:
    """The marts multi-asset of every shard."""
    return [shard_marts(shard, shards) for shard in range(shards)]


marts_assets = all_shard_marts()


def marts_failure_reason(exc: Exception) -> str:
    """A failed marts refresh as a request shows it: the first line of the error, short."""
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return f"the marts refresh failed: {detail}"


def publish_client_marts(
    context: dg.OpExecutionContext, tally: TallyResource, companies: list[str] | None, request_id: str | None
) -> dict[str, Any]:
    """Refresh and publish the clients' marts; a request's marts step and final state are recorded here, so the
    request reads ``succeeded`` exactly when its data is served. Returns the materialization metadata."""
    if request_id:
        with tally.app_engine().begin() as db:
            outbox.update_step(db, request_id, MARTS_STEP, "running")
    started = time.monotonic()
    try:
        report = refresh_marts(tally.settings, companies)
    except Exception as exc:
        if request_id:
            reason = marts_failure_reason(exc)
            with tally.app_engine().begin() as db:
                outbox.update_step(db, request_id, MARTS_STEP, "failed", error=reason)
                outbox.finish_request(db, request_id, "failed", outbox.step_errors(db, request_id))
        raise
    if request_id:
        with tally.app_engine().begin() as db:
            outbox.update_step(db, request_id, MARTS_STEP, "succeeded", partitions_done=1)
            errors = outbox.step_errors(db, request_id)
            outbox.finish_request(db, request_id, "failed" if errors else "succeeded", errors)
    missing = sorted(name for name, present in report.built.items() if not present)
    metadata: dict[str, Any] = {
        "duration_s": round(time.monotonic() - started, 2),
        "companies": ", ".join(companies) if companies is not None else "all",
        "staging_without_raw": ", ".join(missing),
    }
    if report.published:
        metadata |= {
            "published_companies": report.published.companies,
            "published_changed": report.published.written,
            "published_version": report.published.version,
        }
    context.log.info(f"marts refreshed for {metadata['companies']} in {metadata['duration_s']} s")
    return metadata
