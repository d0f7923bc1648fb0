"""Hand-made mart rows for the results routes' edge cases, and the independent arithmetic the tests check with.

The rows go into ``marts.campaign_daily`` and the Shopify and GA4 staging tables of a real warehouse, and
``marts.metric_daily`` is built from them by the real model, so the routes read exactly what a run would leave.

Company ``acme`` (all USD):
- ``m1`` "Spring Sale" (Meta) runs every day from 2023-12-01 to 2025-01-05 with numbers that vary by day.
- ``g1`` "Brand Search" (Google Ads) runs 2024-03-01 to 03-15 with clicks but no conversions, and no reach.
- ``t1`` "Old Promo" (TikTok) runs only in February 2024: the prior period of March.
- ``m0`` "zero spend" (Meta) delivers nothing 2024-03-10 to 03-20: every ratio's denominator is zero.
- Shopify sales 2024-02-01 to 03-31; GA4 traffic in March 2024.
Company ``globex`` has a euro account and a dollar account in March 2024.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import sqlalchemy as sa

from warehouse.models import Warehouse, execute, model_sql, replace_table

SALES_COLUMNS = ["company_id", "date", "orders", "revenue", "currency"]
RATE_COLUMNS = ["date", "currency", "rate_per_eur"]
TRAFFIC_COLUMNS = [
    "company_id",
    "date",
    "campaign",
    "source_medium",
    "sessions",
    "key_events",
    "ga4_revenue",
    "currency",
]


def days(start: date, end: date) -> list[date]:
    """Every date from ``start`` to ``end`` inclusive."""
    return [start + timedelta(n) for n in range((end - start).days + 1)]


@dataclass(frozen=True)
class CampaignDay:
    """One row of ``marts.campaign_daily``."""

    company_id: str
    platform: str
    campaign_id: str
    campaign_name: str
    date: date
    spend: Decimal
    impressions: int
    clicks: int
    conversions: Decimal
    conversion_value: Decimal
    reach: int | None
    currency: str = "USD"
    account_id: str = "act-1"
    campaign_status: str = "ACTIVE"
    campaign_objective: str | None = "OUTCOME_SALES"
    daily_budget: Decimal | None = Decimal("50")
    lifetime_budget: Decimal | None = None
    account_timezone: str = "America/New_York"

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, column) for column in CAMPAIGN_COLUMNS)


CAMPAIGN_COLUMNS = [column.name for column in fields(CampaignDay)]


@dataclass(frozen=True)
class Fixture:
    """Every hand-made row."""

    campaign_days: list[CampaignDay] = field(default_factory=list)
    sales: list[tuple[Any, ...]] = field(default_factory=list)
    traffic: list[tuple[Any, ...]] = field(default_factory=list)
    # ECB reference rates as stg_fx__reference_rates holds them: (publication day, currency, units per euro).
    rates: list[tuple[date, str, Decimal]] = field(default_factory=list)


def spring_sale(day: date) -> CampaignDay:
    n = day.toordinal()
    conversions = 2 + n % 2
    return CampaignDay(
        "acme", "meta_ads", "m1", "Spring Sale", day,
        spend=Decimal(10 + n % 7) + Decimal("0.25"),
        impressions=1000 + 10 * (n % 5),
        clicks=30 + n % 3,
        conversions=Decimal(conversions),
        conversion_value=Decimal("25.5") * conversions,
        reach=700 + n % 4,
    )  # fmt: skip


def fixture() -> Fixture:
    """The rows described in the module docstring."""
    rows = [spring_sale(day) for day in days(date(2023, 12, 1), date(2025, 1, 5))]
    rows += [
        CampaignDay(
            "acme", "google_ads", "g1", "Brand Search", day, Decimal(5), 100, 4, Decimal(0), Decimal(0), None,
            account_id="123-456-7890", campaign_status="ENABLED", campaign_objective="SEARCH", daily_budget=None,
        )
        for day in days(date(2024, 3, 1), date(2024, 3, 15))
    ]  # fmt: skip
    rows += [
        CampaignDay("acme", "tiktok_ads", "t1", "Old Promo", day, Decimal(7), 300, 3, Decimal(1), Decimal(10), 250)
        for day in days(date(2024, 2, 1), date(2024, 2, 29))
    ]
    rows += [
        CampaignDay("acme", "meta_ads", "m0", "zero spend", day, Decimal(0), 0, 0, Decimal(0), Decimal(0), 0)
        for day in days(date(2024, 3, 10), date(2024, 3, 20))
    ]
    rows += [
        CampaignDay("globex", "meta_ads", "x1", "Berlin", day, Decimal(20), 500, 10, Decimal(1), Decimal(40), 400,
                    currency="EUR", account_id="act-eur")
        for day in days(date(2024, 3, 1), date(2024, 3, 31))
    ]  # fmt: skip
    rows += [
        CampaignDay("globex", "google_ads", "x2", "Boston", day, Decimal(30), 600, 12, Decimal(2), Decimal(90), None)
        for day in days(date(2024, 3, 1), date(2024, 3, 31))
    ]
    sales = [
        ("acme", day, 3, Decimal(100 + day.toordinal() % 10), "USD")
        for day in days(date(2024, 2, 1), date(2024, 3, 31))
    ]
    traffic = [
        ("acme", day, "spring", "google / cpc", 50, Decimal(5), Decimal(0), "USD")
        for day in days(date(2024, 3, 1), date(2024, 3, 31))
    ]
    return Fixture(rows, sales, traffic)


def insert(warehouse: Warehouse, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert rows on either kind of warehouse connection."""
    rows = list(rows)
    if not rows:
        return
    if isinstance(warehouse, sa.Connection):
        statement = sa.text(
            f"insert into {table} ({', '.join(columns)}) values ({', '.join(':' + c for c in columns)})"
        )
        warehouse.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])
    else:
        placeholders = ", ".join("?" for _ in columns)
        warehouse.executemany(f"insert into {table} ({', '.join(columns)}) values ({placeholders})", rows)


def build(warehouse: Warehouse, data: Fixture) -> None:
    """Create the marts from the fixture: campaign rows as given, metric_daily and fx_rates through their real
    models."""
    for schema in ("staging", "marts"):
        execute(warehouse, f"create schema if not exists {schema}")
    execute(warehouse, f"create table marts.campaign_daily as {model_sql('marts', 'empty', 'campaign_daily.sql')}")
    execute(
        warehouse,
        f"create table staging.stg_shopify__daily_sales as {model_sql('staging', 'empty', 'daily_sales.sql')}",
    )
    execute(
        warehouse,
        f"create table staging.stg_ga4__traffic_daily as {model_sql('staging', 'empty', 'traffic_daily.sql')}",
    )
    insert(warehouse, "marts.campaign_daily", CAMPAIGN_COLUMNS, (row.row() for row in data.campaign_days))
    insert(warehouse, "staging.stg_shopify__daily_sales", SALES_COLUMNS, data.sales)
    insert(warehouse, "staging.stg_ga4__traffic_daily", TRAFFIC_COLUMNS, data.traffic)
    replace_table(warehouse, "marts", "metric_daily", model_sql("marts", "metric_daily.sql"))
    execute(
        warehouse,
        f"create table staging.stg_fx__reference_rates as {model_sql('staging', 'empty', 'reference_rates.sql')}",
    )
    insert(warehouse, "staging.stg_fx__reference_rates", RATE_COLUMNS, data.rates)
    execute(warehouse, f"create table marts.fx_rates as {model_sql('marts', 'fx_rates.sql')}")


def build_duckdb(path: str, data: Fixture) -> duckdb.DuckDBPyConnection:
    """A DuckDB warehouse file holding the fixture's marts (the caller closes it)."""
    warehouse = duckdb.connect(path)
    build(warehouse, data)
    return warehouse


DATA = fixture()
