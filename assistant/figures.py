"""A company's figures for the AI: the same rollup queries and goal tracking GET /results uses, bound to one company.

The company id is fixed when the object is made (from the URL, or the asset's partition); nothing a model sends
can change it. Every number comes from ``sql/rollups/``; this module only picks and labels rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa

from pipelines.registry import PLATFORMS
from warehouse import run_requests as outbox
from warehouse.freshness import PlatformFreshness, company_freshness, settled_parameters
from warehouse.results import Period, PeriodQuery, load_period, period_metrics
from warehouse.serving import Marts

CAMPAIGN_FIELDS = (
    "campaign_id",
    "campaign_name",
    "platform",
    "campaign_status",
    "spend",
    "impressions",
    "clicks",
    "conversions",
    "conversion_value",
    "roas",
    "cpa",
    "cpc",
    "cpm",
    "ctr",
    "currency",
    "spend_delta_pct",
)
METRIC_FIELDS = (
    "metric_key",
    "value",
    "prior_value",
    "delta_pct",
    "currency",
    "data_points",
    "target",
    "tracking_status",
    "data_through",
)
# Each platform's kind, which tells goal pacing which platforms' loads a metric waits for.
PLATFORM_KINDS = {platform: spec.kind for platform, spec in PLATFORMS.items()}
# The assistant's daily series carry no maturing flag: the rollup's settled days are left unset.
NOT_MATURING = settled_parameters([], PLATFORM_KINDS, list(PLATFORM_KINDS))


def period_out(start: date, end: date, period_type: str | None = None) -> dict[str, Any]:
    """A period as the AI sees it and stores it."""
    return {"type": period_type, "start": start.isoformat(), "end": end.isoformat()}


class CompanyFigures:
    """Read-only figures of one company.

    Each call opens its own marts session and app-database connection and closes them before it returns, so no
    transaction stays open while a model writes (which can take as long as the model's timeout).
    """

    def __init__(
        self, marts: Marts, app_engine: sa.Engine, company_id: str, lookbacks: Mapping[str, int] | None = None
    ) -> None:
        self.marts = marts
        self.app_engine = app_engine
        self.company_id = company_id
        # Each platform's restatement window (the sync lookbacks): which days of a read were maturing.
        self.lookbacks = lookbacks or {}

    def period(self, period_type: str, period_end: date) -> Period:
        """The calendar period ending on ``period_end`` and its prior period, from ``periods.sql``."""
        with self.marts.session(self.company_id) as session:
            return load_period(session, PeriodQuery(period_type, period_end))

    def period_metrics(self, period_type: str, period_end: date) -> dict[str, Any]:
        """Every metric of the period with its prior value, change, and goal tracking (as GET /results)."""
        with self.app_engine.connect() as db:
            query = PeriodQuery(period_type, period_end)
            figures = period_metrics(self.marts, db, self.company_id, query, PLATFORM_KINDS)
        period = figures.period
        metrics = [{field: metric[field] for field in METRIC_FIELDS} for metric in figures.metrics]
        return {
            "period": period_out(period.start, period.end, period_type),
            "prior_period": period_out(period.prior_start, period.prior_end, period_type),
            "metrics": metrics,
            "goals_without_data": sorted(set(figures.goals) - {metric["metric_key"] for metric in metrics}),
            "warnings": figures.warnings,
            "data_through": figures.data_through,
        }

    def goal_status(self, period_type: str, period_end: date) -> dict[str, Any]:
        """The company's goals for this kind of period, each with the period's value and tracking status."""
        figures = self.period_metrics(period_type, period_end)
        goals = [
            {key: metric[key] for key in ("metric_key", "target", "value", "currency", "tracking_status")}
            for metric in figures["metrics"]
            if metric["target"] is not None
        ]
        return {
            "period": figures["period"],
            "goals": goals,
            "goals_without_data": figures["goals_without_data"],
            "data_through": figures["data_through"],
        }

    def campaigns(
        self, period: Period, sort_by: str, sort_dir: str, limit: int, platform: str | None = None
    ) -> dict[str, Any]:
        """The first ``limit`` campaigns of the period in the rollup's order, and the totals of all of them."""
        return self.campaigns_between(
            period.start, period.end, period.prior_start, period.prior_end, sort_by, sort_dir, limit, platform
        ) | {
            "period": period_out(period.start, period.end, period.period_type),
            "prior_period": period_out(period.prior_start, period.prior_end, period.period_type),
        }

    def campaigns_between(
        self,
        start: date,
        end: date,
        prior_start: date,
        prior_end: date,
        sort_by: str,
        sort_dir: str,
        limit: int,
        platform: str | None = None,
    ) -> dict[str, Any]:
        """Campaigns over any window against a prior window (``campaigns.sql``): a QBR's three months."""
        with self.marts.session(self.company_id) as session:
            rows = session.rows(
                "campaigns",
                company_id=self.company_id,
                platform=platform,
                sort_by=sort_by,
                sort_dir=sort_dir,
                period_start=start,
                period_end=end,
                prior_start=prior_start,
                prior_end=prior_end,
            )
        *campaign_rows, totals = rows
        return {
            "period": period_out(start, end),
            "prior_period": period_out(prior_start, prior_end),
            "sorted_by": f"{sort_by} {sort_dir}",
            "campaign_count": len(campaign_rows),
            "campaigns": [{field: row[field] for field in CAMPAIGN_FIELDS} for row in campaign_rows[:limit]],
            "totals": {key: value for key, value in totals.items() if key in CAMPAIGN_FIELDS and value is not None},
        }

    def campaign_daily_spend(self, period: Period, campaign_id: str, platform: str | None = None) -> dict[str, Any]:
        """One campaign's spend on each day of the period (zero on days without spend), per platform: ids are per
        platform, so two platforms' campaigns of one id are two series, never added together."""
        with self.marts.session(self.company_id) as session:
            rows = session.rows(
                "campaign_daily_spend",
                company_id=self.company_id,
                platform=platform,
                period_start=period.start,
                period_end=period.end,
                **NOT_MATURING,
            )
        series: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row["campaign_id"] == campaign_id:
                series.setdefault(row["platform"], []).append({"date": row["date"], "spend": row["spend"]})
        return {
            "period": period_out(period.start, period.end, period.period_type),
            "campaign_id": campaign_id,
            "daily_spend_by_platform": series,
        }

    def freshness(self, period_end: date, platform: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """How current the data of a read ending on ``period_end`` was, per connected platform it read (only
        ``platform``, or only platforms of ``kind``): the last day loaded and whether the read had maturing days."""
        with self.app_engine.connect() as db:
            entries = company_freshness(db, self.company_id, self.lookbacks, platform)
        read = [entry for entry in entries if kind in (None, PLATFORM_KINDS.get(entry.platform))]
        return [read_freshness(entry, period_end) for entry in read]

    def connected_platforms(self) -> list[str]:
        """The platforms the company is connected to (names only; nothing about the connections themselves)."""
        with self.app_engine.connect() as db:
            return outbox.connected_platforms(db, self.company_id)


def read_freshness(entry: PlatformFreshness, period_end: date) -> dict[str, Any]:
    """One platform's freshness as a source shows it. A read is maturing when its period runs past the platform's
    ``settled_through`` (as the daily series' ``maturing`` points): those days may still be restated."""
    settled = entry.settled_through
    return {
        "platform": entry.platform,
        "loaded_through": entry.loaded_through,
        "settled_through": settled,
        "status": entry.status,
        "maturing": settled is not None and period_end > settled,
    }
