"""Reconciliation of a load with the platform's own account-level totals: the gap per metric, and whether every
gap is within the tolerance (0.5% of the platform's figure, or one minor currency unit, whichever is larger).

The loads' totals come from SQL (``sql/revisions/load_totals.sql``); the platform's from its API. This module
compares the two and remembers the outcome on the connection, for ``freshness``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from warehouse.app_tables import connections
from warehouse.connections import STILL_CONNECTED, now

RELATIVE_TOLERANCE = Decimal("0.005")
MINOR_UNIT = Decimal("0.01")


@dataclass(frozen=True)
class MetricGap:
    """One metric's loaded total against the platform's."""

    metric_key: str
    loaded: Decimal
    platform: Decimal

    @property
    def gap(self) -> Decimal:
        return self.loaded - self.platform

    @property
    def gap_pct(self) -> float | None:
        return float(self.gap / self.platform * 100) if self.platform else None

    @property
    def within_tolerance(self) -> bool:
        return abs(self.gap) <= max(abs(self.platform) * RELATIVE_TOLERANCE, MINOR_UNIT)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric_key": self.metric_key,
            "loaded": float(self.loaded),
            "platform": float(self.platform),
            "gap": float(self.gap),
            "gap_pct": None if self.gap_pct is None else round(self.gap_pct, 4),
        }


@dataclass(frozen=True)
class Reconciliation:
    """Every metric's gap for one load."""

    gaps: list[MetricGap]

    @property
    def reconciled(self) -> bool:
        return all(gap.within_tolerance for gap in self.gaps)

    @property
    def largest(self) -> MetricGap | None:
        """The gap furthest out of its tolerance (relative to the platform's figure)."""
        if not self.gaps:
            return None
        return max(self.gaps, key=lambda gap: (abs(gap.gap) / max(abs(gap.platform), MINOR_UNIT), gap.metric_key))


def reconcile(loaded: Mapping[str, Decimal], platform: Mapping[str, Decimal]) -> Reconciliation:
    """The gaps of every metric the platform reports (a metric with no loaded rows counts as 0 loaded)."""
    return Reconciliation(
        [MetricGap(metric, loaded.get(metric, Decimal(0)), value) for metric, value in sorted(platform.items())]
    )


def record_reconciliation(db: sa.Connection, connection_id: str, outcome: Reconciliation | None) -> None:
    """Remember how the connection's last load reconciled (None: the platform could not be asked)."""
    largest = outcome.largest if outcome else None
    db.execute(
        connections.update()
        .where(connections.c.id == connection_id, STILL_CONNECTED)
        .values(
            reconciled=outcome.reconciled if outcome else None,
            reconciliation_gap=largest.as_dict() if largest else None,
            updated_at=now(),
        )
    )
