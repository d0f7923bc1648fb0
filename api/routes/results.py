"""Results: a company's metrics for a period against the prior period and its goals, its campaigns, and their
daily spend. The maths is in ``sql/rollups/``; this module binds parameters and shapes rows into responses.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api.deps import AUTH_ERRORS, Db, ViewCompany
from api.results import (
    PLATFORM_KINDS,
    SORT_DIRECTIONS,
    CurrencyDep,
    LookbacksDep,
    MartsDep,
    PeriodDep,
    PlatformDep,
    enum,
    one_of,
)
from warehouse import insights as insight_store
from warehouse import run_requests as outbox
from warehouse.currencies import check_conversion
from warehouse.freshness import company_freshness, settled_parameters
from warehouse.query_values import SORT_COLUMNS
from warehouse.results import currency_list, currency_warning, load_period, period_metrics

router = APIRouter(prefix="/api/clients/{companyId}/results", tags=["results"])
BAD_QUERY = {
    400: {
        "description": "A query parameter is not one of its allowed values, a date is invalid, or the amounts "
        "cannot be converted into the currency asked for (the message lists the currencies available)"
    }
}
CONVERTED_FROM_DESCRIPTION = (
    "Only with ?currency=: the currencies the amounts behind this figure were reported in and converted from, "
    "day by day at the ECB reference rate; null for a figure with no amount (counts, CTR)"
)


class PeriodOut(BaseModel):
    type: Literal["week", "month", "quarter", "year"]
    start: date
    end: date


class GapOut(BaseModel):
    metric_key: str
    loaded: float = Field(description="The sum of the rows Tally loaded for the days")
    platform: float = Field(description="The platform's own account-level total for the same days")
    gap: float = Field(description="loaded - platform")
    gap_pct: float | None = Field(description="The gap in % of the platform's total; null when that is 0")


class FreshnessOut(BaseModel):
    platform: str
    loaded_through: date | None = Field(description="The last local day (account time zone) a load covered")
    last_loaded_at: datetime | None = Field(description="When the last successful load finished (UTC)")
    settled_through: date | None = Field(
        description="The last day outside the platform's restatement window (loaded_through minus the days a "
        "sync re-pulls: Meta 28, Google Ads 30, TikTok 28, Shopify 7, GA4 3 by default). Later days are "
        "maturing: the platform may still restate them, and the next sync picks that up"
    )
    status: Literal["succeeded", "failed", "never"] = Field(
        description="The last load: succeeded, failed (error says why; the figures keep what loaded before), "
        "or never (nothing of this platform is in the figures yet)"
    )
    error: str | None = Field(description="Why the last load or connection test failed; null otherwise")
    reconciled: bool | None = Field(
        description="Whether the last load's rows add up to the platform's own account-level totals for the same "
        "days (within 0.5% or one minor currency unit): false when a metric is further off, null when no load "
        "has been reconciled yet or the platform could not be asked"
    )
    largest_gap: GapOut | None = Field(description="The metric furthest from the platform's own total, if any")


FRESHNESS_DESCRIPTION = (
    "One entry per connected platform: how current its data is and whether its last load succeeded, so a "
    "platform that failed or never loaded is visible rather than silently missing from totals"
)


class MetricOut(BaseModel):
    metric_key: str
    value: float | None = Field(description="Total for the period; a ratio is computed from the period's sums")
    avg_value: float | None = Field(description="Per day with data; a ratio is its own average")
    data_points: int = Field(description="Days with data in the period")
    currency: str | None = Field(description="Currency of amounts; null for counts, ratios and mixed currencies")
    prior_value: float | None
    delta_pct: float | None = Field(description="Change against the prior period in %; null when prior is null or 0")
    target: float | None
    tracking_status: Literal["on_track", "at_risk", "off_track"] | None = Field(
        description="The value against the target paced to the days of the period through data_through"
    )
    data_through: date | None = Field(
        description="The last day of the period that every connected platform this metric comes from has loaded "
        "(loads stop at yesterday in the account's time zone); goals are paced through it. Null when none of "
        "them has recorded a load: then they are paced through the period's end"
    )
    maturing_days: int = Field(
        description="Days of data_points that are maturing: after settled_through of a connected platform this "
        "metric comes from, so a platform may still restate them (late conversions, refunds, processing) and "
        "the value may still change. 0 means every day of the value is settled"
    )
    converted_from: list[str] | None = Field(default=None, description=CONVERTED_FROM_DESCRIPTION)


class InsightOut(BaseModel):
    text: str
    generated_at: str
    period: PeriodOut
    source: Literal["llm", "template"]


class ResultsOut(BaseModel):
    period: PeriodOut
    prior_period: PeriodOut
    metrics: list[MetricOut]
    insight: InsightOut | None
    connected_platforms: list[str]
    warnings: list[str] = Field(description="Why some figures are missing, e.g. amounts in several currencies")
    data_through: date | None = Field(
        description="The last day of the period that every connected platform has loaded, so every figure is "
        "complete through it (the earliest of the metrics' data_through); before the period's start when none "
        "of it is loaded yet, null when no connected platform has recorded a load"
    )
    freshness: list[FreshnessOut] = Field(description=FRESHNESS_DESCRIPTION)


class Totals(BaseModel):
    spend: float | None
    impressions: float
    clicks: float
    conversions: float
    conversion_value: float | None
    reach: float | None
    frequency: float | None
    cpm: float | None
    cpc: float | None
    ctr: float | None
    roas: float | None
    cpa: float | None
    currency: str | None
    spend_delta_pct: float | None
    converted_from: list[str] | None = Field(default=None, description=CONVERTED_FROM_DESCRIPTION)


class CampaignOut(Totals):
    campaign_id: str
    campaign_name: str | None
    platform: str
    campaign_status: str | None
    campaign_objective: str | None
    daily_budget: float | None
    lifetime_budget: float | None
    impressions: float | None  # type: ignore[assignment]
    clicks: float | None  # type: ignore[assignment]
    conversions: float | None  # type: ignore[assignment]


class CampaignsOut(BaseModel):
    period: PeriodOut
    campaigns: list[CampaignOut]
    totals: Totals
    warnings: list[str]
    freshness: list[FreshnessOut] = Field(description=FRESHNESS_DESCRIPTION)


class DaySpend(BaseModel):
    date: date
    spend: float
    platform: str = Field(description="The platform of the campaign this point belongs to")
    maturing: bool = Field(
        description="Whether the day is inside its platform's restatement window (after that platform's "
        "settled_through in freshness): its spend may still change when the platform restates it"
    )


class DailyOut(BaseModel):
    daily: dict[str, list[DaySpend]] = Field(
        description="Keyed by campaign_id, as /results/campaigns lists it. Campaign ids are per platform, so two "
        "platforms' campaigns may share one key: each point names its platform, and a key's points are ordered "
        "by platform, then date (one full series per platform). Filter with ?platform= for one platform's series"
    )
    freshness: list[FreshnessOut] = Field(description=FRESHNESS_DESCRIPTION)
    currency: str | None = Field(
        default=None, description="Only with ?currency=: the currency every point's spend was converted into"
    )
    converted_from: list[str] | None = Field(
        default=None, description="Only with ?currency=: the currencies the points' spend was reported in"
    )


@router.get("", response_model=ResultsOut, response_model_exclude_unset=True, responses={**AUTH_ERRORS, **BAD_QUERY})
def results(
    company_id: ViewCompany,
    query: PeriodDep,
    marts: MartsDep,
    db: Db,
    lookbacks: LookbacksDep,
    currency: CurrencyDep,
) -> dict[str, Any]:
    """Metric totals for the period, each with its prior-period value, change, goal tracking and maturing days;
    with ``currency``, every amount converted into it day by day."""
    figures = period_metrics(marts, db, company_id, query, PLATFORM_KINDS, lookbacks, currency)
    return {
        "period": figures.period.current(),
        "prior_period": figures.period.prior(),
        "metrics": figures.metrics,
        "insight": insight_store.latest_insight(db, company_id),
        "connected_platforms": outbox.connected_platforms(db, company_id),
        "warnings": figures.warnings,
        "data_through": figures.data_through,
        "freshness": [entry.as_dict() for entry in figures.freshness],
    }


@router.get(
    "/campaigns",
    response_model=CampaignsOut,
    response_model_exclude_unset=True,
    responses={**AUTH_ERRORS, **BAD_QUERY},
)
def campaigns(
    company_id: ViewCompany,
    query: PeriodDep,
    platform: PlatformDep,
    marts: MartsDep,
    db: Db,
    lookbacks: LookbacksDep,
    currency: CurrencyDep,
    sort_by: Annotated[str, Query(description="The column to sort by", json_schema_extra=enum(SORT_COLUMNS))] = "spend",
    sort_dir: Annotated[str, Query(description="asc or desc", json_schema_extra=enum(SORT_DIRECTIONS))] = "desc",
) -> dict[str, Any]:
    """Each campaign's totals for the period and spend change against the prior period, with their totals; with
    ``currency``, every amount converted into it day by day."""
    sort_by = one_of("sort_by", sort_by, SORT_COLUMNS)
    sort_dir = one_of("sort_dir", sort_dir, SORT_DIRECTIONS)
    with marts.session(company_id) as session:
        period = load_period(session, query)
        if currency is not None:
            check_conversion(session, company_id, currency, period.bounds)
        rows = session.rows(
            "campaigns",
            company_id=company_id,
            platform=platform,
            sort_by=sort_by,
            sort_dir=sort_dir,
            currency=currency,
            **period.bounds,
        )
    for row in rows:
        converted_from = row.pop("converted_from")
        if currency is not None:
            row["converted_from"] = currency_list(converted_from)
    *campaign_rows, totals = rows
    warnings = [currency_warning("Spend", totals["currencies"])] if totals["currencies"] else []
    freshness = [entry.as_dict() for entry in company_freshness(db, company_id, lookbacks, platform)]
    return {
        "period": period.current(),
        "campaigns": campaign_rows,
        "totals": totals,
        "warnings": warnings,
        "freshness": freshness,
    }


@router.get(
    "/campaigns/daily",
    response_model=DailyOut,
    response_model_exclude_unset=True,
    responses={**AUTH_ERRORS, **BAD_QUERY},
)
def campaigns_daily(
    company_id: ViewCompany,
    query: PeriodDep,
    platform: PlatformDep,
    marts: MartsDep,
    db: Db,
    lookbacks: LookbacksDep,
    currency: CurrencyDep,
) -> Response:
    """Every campaign's spend on every day of the period (zero where it spent nothing), for sparklines; a series
    per platform and campaign, never two platforms' campaigns of the same id added together.

    A quarter of 100 campaigns is 9,000 points: the rows are written as JSON by orjson straight from the rollup's
    typed columns (a date and a double per point), which the response model documents, instead of being
    validated point by point on the way out. A point is maturing after its platform's ``settled_through``.
    With ``currency``, each point's spend is converted at its own day's rate.
    """
    freshness = company_freshness(db, company_id, lookbacks, platform)
    settled = settled_parameters(freshness, PLATFORM_KINDS, list(PLATFORM_KINDS))
    conversion: dict[str, Any] = {}
    with marts.session(company_id) as session:
        period = load_period(session, query)
        if currency is not None:
            check_conversion(session, company_id, currency, period.bounds)
            (reported,) = session.rows(
                "period_currencies", company_id=company_id, platform=platform, currency=currency, **period.bounds
            )
            conversion = {"currency": currency, "converted_from": currency_list(reported["currencies"])}
        rows = session.rows(
            "campaign_daily_spend",
            company_id=company_id,
            platform=platform,
            currency=currency,
            **period.bounds,
            **settled,
        )
    daily: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        point = {"date": row["date"], "spend": row["spend"], "platform": row["platform"], "maturing": row["maturing"]}
        daily.setdefault(row["campaign_id"], []).append(point)
    body = {"daily": daily, "freshness": [entry.as_dict() for entry in freshness], **conversion}
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")
