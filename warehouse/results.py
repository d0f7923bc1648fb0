"""A company's results for a period: the period calendar, the metric keys, goal tracking, and the metrics
GET /results shows, as the routes, the AI and the insight asset all read them.

The numbers come from ``sql/rollups/``; this module binds parameters, orders rows and attaches goals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from warehouse import goals as goal_store
from warehouse.app_tables import ACTIVE_STATUSES, connections
from warehouse.currencies import check_conversion
from warehouse.freshness import PlatformFreshness, company_freshness, settled_parameters
from warehouse.serving import Marts, MartSession
from warehouse.tracking import tracking_status

PERIOD_TYPES = ("week", "month", "quarter", "year")
# Every metric GET /results can show, in the order it shows them.
ADDITIVE_METRICS = (
    "spend",
    "impressions",
    "clicks",
    "conversions",
    "conversion_value",
    "reach",
    "revenue",
    "orders",
    "sessions",
    "key_events",
)
METRIC_KEYS = (*ADDITIVE_METRICS[:6], "roas", "cpa", "cpm", "cpc", "ctr", *ADDITIVE_METRICS[6:])
METRIC_ORDER = {key: position for position, key in enumerate(METRIC_KEYS)}
# The kind of platform (the registry's ``kind``) each metric's rows come from, as sql/marts/metric_daily.sql
# builds them: ad delivery and its ratios from the ad platforms, sales from commerce, traffic from analytics.
METRIC_SOURCE_KIND = {
    **dict.fromkeys(METRIC_KEYS[:11], "ads"),
    **dict.fromkeys(("revenue", "orders"), "commerce"),
    **dict.fromkeys(("sessions", "key_events"), "analytics"),
}


def today() -> date:
    """Today's date in UTC: the default end of a period."""
    return datetime.now(ZoneInfo("UTC")).date()


@dataclass(frozen=True)
class PeriodQuery:
    """The period a results route was asked for."""

    period_type: str
    period_end: date


@dataclass(frozen=True)
class Period:
    """A period and the prior period it is compared with, as ``sql/rollups/periods.sql`` computes them."""

    period_type: str
    start: date
    end: date
    prior_start: date
    prior_end: date
    period_days: int

    def days_with_data(self, data_through: date | None) -> int:
        """Days of the period through ``data_through`` (0 when that is before the period); all of it when None."""
        last = self.end if data_through is None else min(self.end, data_through)
        return max(0, (last - self.start).days + 1)

    @property
    def bounds(self) -> dict[str, date]:
        """The rollup queries' date parameters."""
        return {
            "period_start": self.start,
            "period_end": self.end,
            "prior_start": self.prior_start,
            "prior_end": self.prior_end,
        }

    def current(self) -> dict[str, Any]:
        """The period as the responses show it."""
        return {"type": self.period_type, "start": self.start, "end": self.end}

    def prior(self) -> dict[str, Any]:
        """The prior period as the responses show it."""
        return {"type": self.period_type, "start": self.prior_start, "end": self.prior_end}


def load_period(session: MartSession, query: PeriodQuery) -> Period:
    """The period and prior period for a query, from the warehouse's own date arithmetic."""
    (row,) = session.rows("periods", period_type=query.period_type, period_end=query.period_end)
    return Period(
        period_type=row["period_type"],
        start=row["period_start"],
        end=row["period_end"],
        prior_start=row["prior_start"],
        prior_end=row["prior_end"],
        period_days=int(row["period_days"]),
    )


def currency_list(currencies: str | None) -> list[str] | None:
    """The rollups' comma-separated currencies (``converted_from``) as a list; None when there are none."""
    return currencies.split(", ") if currencies else None


def currency_warning(subject: str, currencies: str) -> str:
    """The warning for amounts that were not added because they are in several currencies."""
    return f"{subject} is reported in several currencies ({currencies}) and is not added up until conversion exists"


@dataclass(frozen=True)
class LoadedDays:
    """The last local day loaded per connected platform of a company (platforms never loaded are left out)."""

    by_platform: dict[str, date]
    platform_kinds: Mapping[str, str]

    def data_through(self, period: Period, metric_key: str | None = None) -> date | None:
        """The last day of ``period`` every platform ``metric_key`` comes from (or every platform) has loaded;
        None when none of them has recorded a load."""
        kind = METRIC_SOURCE_KIND.get(metric_key) if metric_key else None
        days = [day for platform, day in self.by_platform.items() if kind in (None, self.platform_kinds.get(platform))]
        return min([period.end, *days]) if days else None


def loaded_days(db: sa.Connection, company_id: str, platform_kinds: Mapping[str, str]) -> LoadedDays:
    """What the company's connected connections have loaded: ``connections.loaded_through``, which loads set."""
    query = sa.select(connections.c.platform, connections.c.loaded_through).where(
        connections.c.company_id == company_id,
        connections.c.status.in_(ACTIVE_STATUSES),
        connections.c.loaded_through.is_not(None),
    )
    return LoadedDays({row.platform: row.loaded_through for row in db.execute(query)}, platform_kinds)


@dataclass(frozen=True)
class PeriodMetrics:
    """Every metric of a period with its prior value, change, goal and tracking status, as GET /results shows it."""

    period: Period
    metrics: list[dict[str, Any]]
    goals: dict[str, float]
    warnings: list[str]
    data_through: date | None
    freshness: list[PlatformFreshness]


def period_metrics(
    marts: Marts,
    db: sa.Connection,
    company_id: str,
    query: PeriodQuery,
    platform_kinds: Mapping[str, str],
    lookbacks: Mapping[str, int] | None = None,
    currency: str | None = None,
) -> PeriodMetrics:
    """One company's metrics for a period (``results_metrics.sql``) with the goals set for that kind of period.

    Goals are paced against the days the period has data for: through the last day the metric's platforms
    (``platform_kinds`` maps each platform to its registry kind) have loaded, not through ``period_end``,
    which defaults to today while loads stop at yesterday. ``lookbacks`` (days per platform) tells which days
    are still maturing; without it none is counted as maturing. ``currency`` converts every amount into it
    day by day (``InvalidRequest`` when it cannot); each metric then says what it was ``converted_from``.
    """
    freshness = company_freshness(db, company_id, lookbacks or {})
    settled = settled_parameters(freshness, platform_kinds, list(platform_kinds))
    with marts.session(company_id) as session:
        period = load_period(session, query)
        if currency is not None:
            check_conversion(session, company_id, currency, period.bounds)
        rows = session.rows("results_metrics", company_id=company_id, currency=currency, **period.bounds, **settled)
    goals = {goal.metric_key: goal.target for goal in goal_store.list_goals(db, company_id, query.period_type)}
    loaded = loaded_days(db, company_id, platform_kinds)
    metrics = []
    warnings = []
    for row in sorted(rows, key=lambda row: METRIC_ORDER.get(row["metric_key"], len(METRIC_ORDER))):
        key = row["metric_key"]
        target = goals.get(key)
        data_through = loaded.data_through(period, key)
        days = period.days_with_data(data_through)
        status = tracking_status(key, row["value"], target, days, period.period_days) if target else None
        metric = {
            "metric_key": key,
            "value": row["value"],
            "avg_value": row["avg_value"],
            "data_points": row["data_points"],
            "currency": row["currency"],
            "prior_value": row["prior_value"],
            "delta_pct": row["delta_pct"],
            "target": target,
            "tracking_status": status,
            "data_through": data_through,
            "maturing_days": row["maturing_days"],
        }
        if currency is not None:
            metric["converted_from"] = currency_list(row["converted_from"])
        metrics.append(metric)
        if row["currencies"] and not row["is_ratio"]:
            warnings.append(currency_warning(key, row["currencies"]))
    return PeriodMetrics(period, metrics, goals, warnings, loaded.data_through(period), freshness)
