"""What the results routes share: the allowed query values, their parsing, and the period they ask for.

Query values are checked here rather than by FastAPI's types so a bad one answers 400 with a message naming
the allowed values. The period boundaries themselves come from ``sql/rollups/periods.sql``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request

from pipelines.registry import PLATFORMS
from tally.errors import InvalidRequest
from warehouse.serving import Marts, MartSession

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
COST_METRICS = ("cpa", "cpc", "cpm")
RATE_METRICS = ("roas", "ctr")
METRIC_KEYS = (*ADDITIVE_METRICS[:6], "roas", "cpa", "cpm", "cpc", "ctr", *ADDITIVE_METRICS[6:])
SORT_COLUMNS = (
    "spend",
    "impressions",
    "clicks",
    "conversions",
    "conversion_value",
    "reach",
    "frequency",
    "roas",
    "cpa",
    "cpm",
    "ctr",
    "campaign_name",
)
SORT_DIRECTIONS = ("asc", "desc")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The first place on Earth where a day begins: a date later than today there is in the future everywhere.
EARLIEST_TIME_ZONE = ZoneInfo("Etc/GMT-14")


def one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is allowed, else a 400 naming the allowed values."""
    if value not in allowed:
        raise InvalidRequest(f"{name} must be one of: {', '.join(allowed)}")
    return value


def today() -> date:
    """Today's date in UTC: the default end of a period."""
    return datetime.now(ZoneInfo("UTC")).date()


def parse_period_end(value: str | None) -> date:
    """A ``YYYY-MM-DD`` date that is not in the future anywhere; today when absent."""
    if value is None:
        return today()
    try:
        if not ISO_DATE.match(value):
            raise ValueError(value)
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest("period_end must be a date as YYYY-MM-DD") from None
    if parsed > datetime.now(EARLIEST_TIME_ZONE).date():
        raise InvalidRequest("period_end must not be in the future")
    return parsed


@dataclass(frozen=True)
class PeriodQuery:
    """The period a results route was asked for."""

    period_type: str
    period_end: date


def period_query(
    period_type: Annotated[str, Query(description="week, month, quarter or year")] = "month",
    period_end: Annotated[str | None, Query(description="Last day of the period, YYYY-MM-DD (default: today)")] = None,
) -> PeriodQuery:
    """The validated ``period_type`` and ``period_end`` query parameters."""
    return PeriodQuery(one_of("period_type", period_type, PERIOD_TYPES), parse_period_end(period_end))


def platform_query(
    platform: Annotated[str | None, Query(description="Only this platform's campaigns")] = None,
) -> str | None:
    """The validated ``platform`` filter."""
    return None if platform is None else one_of("platform", platform, tuple(PLATFORMS))


@dataclass(frozen=True)
class Period:
    """A period and the prior period it is compared with, as ``sql/rollups/periods.sql`` computes them."""

    period_type: str
    start: date
    end: date
    prior_start: date
    prior_end: date
    period_days: int

    @property
    def days_elapsed(self) -> int:
        """Days from the start of the period to its end, inclusive."""
        return (self.end - self.start).days + 1

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


def currency_warning(subject: str, currencies: str) -> str:
    """The warning for amounts that were not added because they are in several currencies."""
    return f"{subject} is reported in several currencies ({currencies}) and is not added up until conversion exists"


def get_marts(request: Request) -> Marts:
    """The marts reader the app was created with."""
    return request.app.state.marts


MartsDep = Annotated[Marts, Depends(get_marts)]
PeriodDep = Annotated[PeriodQuery, Depends(period_query)]
PlatformDep = Annotated[str | None, Depends(platform_query)]
