"""Reconciliation with the platforms' own totals, as Dagster asset checks on the raw assets.

After each load, ``client_refresh_job`` asks the platform for its account-level totals of the loaded days (Meta
insights at ``level=account``, Google Ads GAQL ``FROM customer``, TikTok's ``AUCTION_ADVERTISER`` report,
Shopify's orders of the range, GA4's ``runReport`` without campaign dimensions) and compares them with the sum
of the rows it loaded (``sql/revisions/load_totals.sql``). The outcome is logged as an evaluation of the check
declared here, on the raw asset the platform's figures live in, so the asset's Checks tab shows it: WARN (the
load still succeeds) when a metric is off by more than 0.5% or one minor unit, with every gap as metadata.

Run by hand from the UI, a check reports the latest reconciliation each connected client's load recorded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import dagster as dg
import sqlalchemy as sa

from orchestration.assets.raw import WrittenDays, raw_asset_key
from orchestration.partitions import CLIENT_SHARDS, client_shard
from orchestration.resources import TallyResource
from pipelines.reconciliation import ACCOUNT_TOTALS
from pipelines.registry import get_platform
from tally.errors import PlatformError
from warehouse import connections as store
from warehouse.app_tables import ACTIVE_STATUSES, connections
from warehouse.reconciliation import Reconciliation, reconcile, record_reconciliation

RECONCILIATION_CHECK = "matches_platform_totals"
# The raw table whose rows add up to each platform's account-level totals.
RECONCILED_TABLE = {
    "meta_ads": "campaign_daily",
    "google_ads": "campaign_daily",
    "tiktok_ads": "campaign_daily",
    "shopify": "daily_sales",
    "ga4": "traffic_daily",
}


def reconciliation_check_key(platform: str, shard: int = 0, shards: int = CLIENT_SHARDS) -> dg.AssetCheckKey:
    """The reconciliation check of a platform's raw asset (of one shard of the clients)."""
    return dg.AssetCheckKey(raw_asset_key(platform, RECONCILED_TABLE[platform], shard, shards), RECONCILIATION_CHECK)


def reconciliation_metadata(outcome: Reconciliation, written: WrittenDays) -> dict[str, Any]:
    """The check's metadata: the client, the days, and each metric's loaded and platform totals and gap."""
    span = written.fetched.span
    metadata: dict[str, Any] = {
        "company_id": span.company_id,
        "start_date": span.start.isoformat(),
        "end_date": span.end.isoformat(),
    }
    for gap in outcome.gaps:
        metadata[f"gap_{gap.metric_key}"] = float(gap.gap)
        metadata[f"gap_pct_{gap.metric_key}"] = gap.gap_pct
    metadata["gaps"] = dg.MetadataValue.json([gap.as_dict() for gap in outcome.gaps])
    return metadata


def account_totals(tally: TallyResource, written: WrittenDays) -> dict[str, Decimal] | None:
    """The platform's own totals of the load's days, asked with the connection's credentials (read in the run);
    None when the connection was disconnected since the load (there is nothing left to reconcile)."""
    fetched = written.fetched
    with tally.app_engine().connect() as db:
        connection = store.connected_connection(db, fetched.span.company_id, fetched.platform)
    if connection is None or connection["id"] != fetched.connection_id:
        return None
    spec = get_platform(fetched.platform)
    credentials = spec.credentials_model.model_validate(tally.vault().decrypt(connection["credentials_encrypted"]))
    return ACCOUNT_TOTALS[fetched.platform](credentials, fetched.span.start, fetched.span.end, tally.settings)


def reconciliation_evaluation(tally: TallyResource, written: WrittenDays) -> dg.AssetCheckEvaluation | None:
    """Compare a load with the platform's totals, remember the outcome on its connection, and return it as an
    evaluation of the platform's check; None for a platform the client has (no longer) a connection to."""
    fetched = written.fetched
    if fetched.skipped or fetched.connection_id is None:
        return None
    key = reconciliation_check_key(fetched.platform, client_shard(fetched.span.company_id))
    try:
        platform = account_totals(tally, written)
    except PlatformError as exc:
        with tally.app_engine().begin() as db:
            record_reconciliation(db, fetched.connection_id, None)
        return dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"Could not ask the platform for its totals: {exc.message}",
            metadata={"company_id": fetched.span.company_id},
        )
    if platform is None:
        return None
    outcome = reconcile(written.changes.totals, platform)
    with tally.app_engine().begin() as db:
        record_reconciliation(db, fetched.connection_id, outcome)
    largest = outcome.largest
    summary = "every metric within 0.5% (or one minor unit)"
    if not outcome.reconciled and largest is not None:
        summary = f"{largest.metric_key} is off by {float(largest.gap):g} ({largest.gap_pct or 0:.2f}%)"
    return dg.AssetCheckEvaluation(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=outcome.reconciled,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{fetched.span.company_id}: the loaded rows against the platform's own totals: {summary}",
        metadata=reconciliation_metadata(outcome, written),
    )


def platform_reconciliation_check(platform: str, shard: int, shards: int = CLIENT_SHARDS) -> dg.AssetChecksDefinition:
    """The declared reconciliation check of one platform's raw asset of a shard (evaluated by each load of the
    platform for a client of the shard)."""
    key = reconciliation_check_key(platform, shard, shards)

    @dg.asset_check(
        asset=key.asset_key,
        name=key.name,
        description=f"The loaded rows add up to {get_platform(platform).display_name}'s own account-level totals "
        "for the same days (within 0.5% or one minor unit); evaluated after every load.",
    )
    def check(tally: TallyResource) -> dg.AssetCheckResult:
        with tally.app_engine().connect() as db:
            rows = db.execute(
                sa.select(connections.c.company_id, connections.c.reconciled, connections.c.reconciliation_gap).where(
                    connections.c.platform == platform,
                    connections.c.status.in_(ACTIVE_STATUSES),
                    connections.c.reconciled.is_not(None),
                )
            ).all()
        rows = [row for row in rows if client_shard(row.company_id, shards) == shard]
        failing = sorted(row.company_id for row in rows if not row.reconciled)
        return dg.AssetCheckResult(
            passed=not failing,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "clients_reconciled": len(rows) - len(failing),
                "clients_off": dg.MetadataValue.json(
                    {row.company_id: row.reconciliation_gap for row in rows if not row.reconciled}
                ),
            },
        )

    return check


reconciliation_checks = [
    platform_reconciliation_check(platform, shard) for platform in RECONCILED_TABLE for shard in range(CLIENT_SHARDS)
]
