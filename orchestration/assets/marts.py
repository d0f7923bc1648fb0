"""Marts as Dagster assets: rebuilt from the raw tables by the SQL models in ``sql/`` after loads finish."""

import time

import dagster as dg

from orchestration.assets.raw import OWNERS, RAW_TABLES, WAREHOUSE_POOL, raw_asset_key, warehouse_kind
from orchestration.resources import TallyResource
from warehouse.models import MART_MODELS
from warehouse.serving import refresh_marts

MART_DESCRIPTIONS = {
    "campaign_daily": "Every ad platform's campaigns per local day, in major currency units, with campaign metadata.",
    "metric_daily": "Additive metrics per company, metric, day and currency: what the results routes aggregate.",
}


def mart_asset_key(name: str) -> dg.AssetKey:
    """Asset keys mirror where the data lives: ``marts/<table>``."""
    return dg.AssetKey(["marts", name])


@dg.multi_asset(
    name="marts",
    specs=[
        dg.AssetSpec(
            mart_asset_key(name),
            description=MART_DESCRIPTIONS[name],
            group_name="marts",
            kinds={"sql", warehouse_kind()},
            owners=OWNERS,
            deps=[raw_asset_key(platform, table) for platform, tables in RAW_TABLES.items() for table in tables],
        )
        for name in MART_MODELS
    ],
    pool=WAREHOUSE_POOL,
)
def marts(context: dg.AssetExecutionContext, tally: TallyResource):
    """Rebuild the staging views and mart tables in one warehouse transaction, then publish them for the API."""
    started = time.monotonic()
    report = refresh_marts(tally.settings)
    missing = sorted(name for name, present in report.built.items() if not present)
    metadata: dict[str, dg.RawMetadataValue] = {
        "duration_s": round(time.monotonic() - started, 2),
        "staging_without_raw": ", ".join(missing),
    }
    if report.published:
        metadata |= {
            "published_companies": report.published.companies,
            "published_changed": report.published.written,
            "published_version": report.published.version,
        }
    for name in MART_MODELS:
        yield dg.MaterializeResult(asset_key=mart_asset_key(name), metadata=metadata)
