"""What the results routes share: the allowed query values, their parsing, and the period they ask for.

Query values are checked here rather than by FastAPI's types so a bad one answers 400 with a message naming
the allowed values. The sort columns and the ``period_end`` check are ``warehouse/query_values.py``'s, shared
with the assistant's tools; the period boundaries themselves come from ``sql/rollups/periods.sql``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from api.deps import SettingsDep
from pipelines.registry import PLATFORMS, lookback_days
from tally.errors import InvalidRequest
from warehouse.query_values import parse_period_end
from warehouse.results import PERIOD_TYPES, PeriodQuery
from warehouse.serving import Marts

SORT_DIRECTIONS = ("asc", "desc")
# Each platform's kind, which tells goal pacing which platforms' loads a metric waits for.
PLATFORM_KINDS = {platform: spec.kind for platform, spec in PLATFORMS.items()}


def enum(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The allowed values of a query parameter, for the OpenAPI document; ``one_of`` enforces them with a 400."""
    return {"enum": list(allowed)}


def one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is allowed, else a 400 naming the allowed values."""
    if value not in allowed:
        raise InvalidRequest(f"{name} must be one of: {', '.join(allowed)}")
    return value


async def period_query(
    period_type: Annotated[
        str, Query(description="week, month, quarter or year", json_schema_extra=enum(PERIOD_TYPES))
    ] = "month",
    period_end: Annotated[
        str | None,
        Query(
            description="Last day of the period, YYYY-MM-DD from 2000-01-01 to today (default: today)",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
) -> PeriodQuery:
    """The validated ``period_type`` and ``period_end`` query parameters."""
    return PeriodQuery(one_of("period_type", period_type, PERIOD_TYPES), parse_period_end(period_end))


async def platform_query(
    platform: Annotated[
        str | None, Query(description="Only this platform's campaigns", json_schema_extra=enum(tuple(PLATFORMS)))
    ] = None,
) -> str | None:
    """The validated ``platform`` filter."""
    return None if platform is None else one_of("platform", platform, tuple(PLATFORMS))


CURRENCY_DESCRIPTION = (
    "ISO 4217 code (e.g. EUR) to convert every money metric into, day by day at that day's European Central Bank "
    "reference rate through the euro (the last published rate carries over weekends and holidays); ratios "
    "(ROAS, CPA, CPC, CPM) are recomputed from the converted sums, and each figure says what it was converted "
    "from. Omitted: amounts stay in their own currencies. A code the loaded rates do not quote is 400 listing "
    "those they do, and so is a period with amounts on days before the first rate"
)


async def currency_query(
    currency: Annotated[str | None, Query(description=CURRENCY_DESCRIPTION, examples=["EUR"])] = None,
) -> str | None:
    """The ``currency`` to convert into; whether the rates quote it is checked against them by the route."""
    return currency


async def get_marts(request: Request) -> Marts:
    """The marts reader the app was created with."""
    return request.app.state.marts


async def platform_lookbacks(settings: SettingsDep) -> dict[str, int]:
    """Each platform's restatement window in days: the lookback its syncs re-pull (the registry's one definition)."""
    return {platform: lookback_days(settings, platform) for platform in PLATFORMS}


MartsDep = Annotated[Marts, Depends(get_marts)]
LookbacksDep = Annotated[dict[str, int], Depends(platform_lookbacks)]
PeriodDep = Annotated[PeriodQuery, Depends(period_query)]
PlatformDep = Annotated[str | None, Depends(platform_query)]
CurrencyDep = Annotated[str | None, Depends(currency_query)]
