"""How current a company's numbers are, per connected platform: the last day loaded, when, whether the last load
succeeded, and the last day outside the platform's restatement window (``settled_through``).

A sync re-pulls each platform's lookback window because the platforms restate those days (late conversions,
refunds, processing). So a day after ``settled_through`` is *maturing*: its numbers may still change. The
rollups decide which days are maturing (``sql/rollups/``); this module only reads the connections and passes
each platform's ``settled_through`` to them as parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from warehouse.app_tables import ACTIVE_STATUSES, connections

# The rollups' parameters: each platform's settled day (campaign_daily_spend.sql) and each kind's earliest one
# (results_metrics.sql). The kinds are the registry's, as sql/marts/metric_daily.sql groups the metrics.
PLATFORM_KINDS_IN_SQL = ("ads", "commerce", "analytics")


@dataclass(frozen=True)
class PlatformFreshness:
    """What GET /results shows about one connected platform's data."""

    platform: str
    loaded_through: date | None
    last_loaded_at: datetime | None
    settled_through: date | None
    status: str
    error: str | None
    reconciled: bool | None = None
    largest_gap: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "loaded_through": self.loaded_through,
            "last_loaded_at": self.last_loaded_at,
            "settled_through": self.settled_through,
            "status": self.status,
            "error": self.error,
            "reconciled": self.reconciled,
            "largest_gap": self.largest_gap,
        }


def load_status(last_synced_at: datetime | None, last_sync_error: str | None) -> str:
    """``failed`` when the last load (or connection test) left an error, ``never`` before any load succeeded."""
    if last_sync_error:
        return "failed"
    return "succeeded" if last_synced_at else "never"


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored timestamp in UTC (SQLite hands them back without a zone; they are written in UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def company_freshness(
    db: sa.Connection, company_id: str, lookbacks: Mapping[str, int], platform: str | None = None
) -> list[PlatformFreshness]:
    """One entry per connected platform of the company (or only ``platform``), by platform name.

    ``lookbacks`` is each platform's restatement window in days (the sync lookbacks of the registry), so that
    ``settled_through`` is ``loaded_through`` minus it.
    """
    query = sa.select(
        connections.c.platform,
        connections.c.loaded_through,
        connections.c.last_synced_at,
        connections.c.last_sync_error,
        connections.c.reconciled,
        connections.c.reconciliation_gap,
    ).where(connections.c.company_id == company_id, connections.c.status.in_(ACTIVE_STATUSES))
    if platform is not None:
        query = query.where(connections.c.platform == platform)
    entries = []
    for row in db.execute(query.order_by(connections.c.platform)):
        loaded = date.fromisoformat(str(row.loaded_through)) if row.loaded_through is not None else None
        window = lookbacks.get(row.platform)
        settled = loaded - timedelta(days=window) if loaded is not None and window is not None else None
        entries.append(
            PlatformFreshness(
                platform=row.platform,
                loaded_through=loaded,
                last_loaded_at=as_utc(row.last_synced_at),
                settled_through=settled,
                status=load_status(row.last_synced_at, row.last_sync_error),
                error=row.last_sync_error,
                reconciled=row.reconciled,
                largest_gap=row.reconciliation_gap,
            )
        )
    return entries


def settled_parameters(
    entries: list[PlatformFreshness], platform_kinds: Mapping[str, str], platforms: list[str]
) -> dict[str, date | None]:
    """The rollups' ``:<platform>_settled_through`` and ``:<kind>_settled_through`` parameters.

    A platform not connected (or never loaded) has none: its rows, if any are left, are not maturing. A kind's
    day is the earliest of its platforms', since a day still maturing on one of them may still change the sum.
    """
    settled = {entry.platform: entry.settled_through for entry in entries}
    params: dict[str, date | None] = {f"{platform}_settled_through": settled.get(platform) for platform in platforms}
    for kind in PLATFORM_KINDS_IN_SQL:
        days = [day for platform, day in settled.items() if day is not None and platform_kinds.get(platform) == kind]
        params[f"{kind}_settled_through"] = min(days) if days else None
    return params
