"""Raw tables written by hand, with the columns the staging models read, so a test knows every row the marts
are built from and can add up the expected totals itself.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tally.settings import Settings
from warehouse.models import execute, query, warehouse_transaction

# The columns of each raw table that the staging models read, typed as the loads write them: the platforms'
# strings stay strings.
RAW_COLUMNS: dict[str, dict[str, str]] = {
    "raw_meta_ads.campaign_daily": {
        "company_id": "varchar", "account_id": "varchar", "campaign_id": "varchar", "date": "date",
        "campaign_name": "varchar", "spend": "varchar", "impressions": "varchar", "clicks": "varchar",
        "conversions": "varchar", "conversion_value": "varchar", "reach": "varchar", "currency": "varchar",
        "account_timezone": "varchar",
    },
    "raw_meta_ads.campaigns": {
        "company_id": "varchar", "account_id": "varchar", "campaign_id": "varchar", "name": "varchar",
        "status": "varchar", "objective": "varchar", "daily_budget": "varchar", "lifetime_budget": "varchar",
        "currency": "varchar",
    },
    "raw_google_ads.campaign_daily": {
        "company_id": "varchar", "account_id": "varchar", "campaign_id": "varchar", "date": "date",
        "campaign_name": "varchar", "metrics_cost_micros": "varchar", "metrics_impressions": "varchar",
        "metrics_clicks": "varchar", "metrics_conversions": "double precision",
        "metrics_conversions_value": "double precision", "currency": "varchar", "account_timezone": "varchar",
    },
    "raw_shopify.daily_sales": {
        "company_id": "varchar", "date": "date", "orders_count": "bigint", "revenue": "varchar",
        "currency": "varchar",
    },
    "raw_ga4.traffic_daily": {
        "company_id": "varchar", "date": "date", "session_campaign_name": "varchar",
        "session_source_medium": "varchar", "sessions": "varchar", "key_events": "varchar",
        "total_revenue": "varchar", "currency": "varchar",
    },
}  # fmt: skip

MetricRows = dict[tuple[str, date, str | None], Decimal]


def write_raw(settings: Settings, table: str, rows: list[dict[str, Any]]) -> None:
    """Create the raw table (and its schema) when missing, then insert ``rows``; columns left out are null."""
    columns = RAW_COLUMNS[table]
    schema = table.split(".")[0]
    with warehouse_transaction(settings) as warehouse:
        execute(warehouse, f"create schema if not exists {schema}")
        listed = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        execute(warehouse, f"create table if not exists {table} ({listed})")
        statement = f"insert into {table} ({', '.join(columns)}) values ({', '.join(':' + c for c in columns)})"
        for row in rows:
            execute(warehouse, statement, {name: row.get(name) for name in columns})


def delete_raw(settings: Settings, table: str, company_id: str) -> None:
    """Remove one company's rows from a raw table, as a re-pull that came back empty does."""
    with warehouse_transaction(settings) as warehouse:
        execute(warehouse, f"delete from {table} where company_id = :company_id", {"company_id": company_id})


def replace_raw(settings: Settings, table: str, company_id: str, rows: list[dict[str, Any]]) -> None:
    """One company's rows of a raw table replaced by ``rows``, as a re-load of its days does."""
    delete_raw(settings, table, company_id)
    write_raw(settings, table, rows)


def metric_rows(settings: Settings, company_id: str) -> MetricRows:
    """The company's ``marts.metric_daily`` as {(metric_key, date, currency): value}."""
    with warehouse_transaction(settings) as warehouse:
        rows = query(
            warehouse,
            "select metric_key, date, currency, value from marts.metric_daily where company_id = :company_id",
            {"company_id": company_id},
        )
    return {(metric, day, currency): Decimal(value) for metric, day, currency, value in rows}


SEP_1, SEP_2 = date(2026, 9, 1), date(2026, 9, 2)
# acme: two Meta campaigns, one Google Ads campaign, a store and a GA4 property.
ACME_RAW: dict[str, list[dict[str, Any]]] = {
    "raw_meta_ads.campaign_daily": [
        {"company_id": "acme", "account_id": "act_1", "campaign_id": "m1", "date": SEP_1, "campaign_name": "Spring",
         "spend": "10.50", "impressions": "1000", "clicks": "50", "conversions": "2", "conversion_value": "40.00",
         "reach": "800", "currency": "USD", "account_timezone": "UTC"},
        {"company_id": "acme", "account_id": "act_1", "campaign_id": "m1", "date": SEP_2, "campaign_name": "Spring",
         "spend": "4.25", "impressions": "400", "clicks": "10", "reach": "300", "currency": "USD",
         "account_timezone": "UTC"},
        {"company_id": "acme", "account_id": "act_1", "campaign_id": "m2", "date": SEP_1, "campaign_name": "Brand",
         "spend": "1.25", "impressions": "100", "clicks": "5", "conversions": "1", "conversion_value": "15.50",
         "currency": "USD", "account_timezone": "UTC"},
    ],
    "raw_meta_ads.campaigns": [
        {"company_id": "acme", "account_id": "act_1", "campaign_id": "m1", "name": "Spring sale",
         "status": "ACTIVE", "objective": "OUTCOME_SALES", "daily_budget": "5000", "currency": "USD"},
    ],
    "raw_google_ads.campaign_daily": [
        {"company_id": "acme", "account_id": "123", "campaign_id": "g1", "date": SEP_1, "campaign_name": "Search",
         "metrics_cost_micros": "2500000", "metrics_impressions": "200", "metrics_conversions": 0.5,
         "metrics_conversions_value": 7.25, "currency": "USD", "account_timezone": "UTC"},
    ],
    "raw_shopify.daily_sales": [
        {"company_id": "acme", "date": SEP_1, "orders_count": 3, "revenue": "120.00", "currency": "USD"},
        {"company_id": "acme", "date": SEP_2, "orders_count": 1, "revenue": "30.50", "currency": "USD"},
    ],
    "raw_ga4.traffic_daily": [
        {"company_id": "acme", "date": SEP_1, "session_campaign_name": "(not set)",
         "session_source_medium": "google / cpc", "sessions": "70", "key_events": "2.5", "total_revenue": "10",
         "currency": "USD"},
        {"company_id": "acme", "date": SEP_1, "session_campaign_name": "spring",
         "session_source_medium": "facebook / paid", "sessions": "30", "key_events": "1", "total_revenue": "0",
         "currency": "USD"},
    ],
}  # fmt: skip
# Added up by hand from ACME_RAW. Google's cost is in micros and its missing clicks are zeros; Meta's missing
# conversions are zeros; reach only where a platform reports it (m1), so Sep 1 is m1's 800 alone.
ACME_METRICS: MetricRows = {
    ("spend", SEP_1, "USD"): Decimal("14.25"),  # 10.50 + 1.25 + 2.50
    ("spend", SEP_2, "USD"): Decimal("4.25"),
    ("impressions", SEP_1, None): Decimal(1300),  # 1000 + 100 + 200
    ("impressions", SEP_2, None): Decimal(400),
    ("clicks", SEP_1, None): Decimal(55),  # 50 + 5 + 0
    ("clicks", SEP_2, None): Decimal(10),
    ("conversions", SEP_1, None): Decimal("3.5"),  # 2 + 1 + 0.5
    ("conversions", SEP_2, None): Decimal(0),
    ("conversion_value", SEP_1, "USD"): Decimal("62.75"),  # 40.00 + 15.50 + 7.25
    ("conversion_value", SEP_2, "USD"): Decimal(0),
    ("reach", SEP_1, None): Decimal(800),
    ("reach", SEP_2, None): Decimal(300),
    ("revenue", SEP_1, "USD"): Decimal(120),
    ("revenue", SEP_2, "USD"): Decimal("30.5"),
    ("orders", SEP_1, None): Decimal(3),
    ("orders", SEP_2, None): Decimal(1),
    ("sessions", SEP_1, None): Decimal(100),  # 70 + 30
    ("key_events", SEP_1, None): Decimal("3.5"),  # 2.5 + 1
}


def globex_meta(spend: str) -> list[dict[str, Any]]:
    """globex: one Meta campaign-day, whose spend a test changes."""
    return [
        {"company_id": "globex", "account_id": "act_9", "campaign_id": "m9", "date": SEP_1, "campaign_name": "Launch",
         "spend": spend, "impressions": "5000", "clicks": "100", "conversions": "4", "conversion_value": "400",
         "reach": "4000", "currency": "EUR", "account_timezone": "Europe/Berlin"},
    ]  # fmt: skip


def globex_metrics(spend: str) -> MetricRows:
    """globex's metric_daily for ``globex_meta(spend)``, written out by hand."""
    return {
        ("spend", SEP_1, "EUR"): Decimal(spend),
        ("impressions", SEP_1, None): Decimal(5000),
        ("clicks", SEP_1, None): Decimal(100),
        ("conversions", SEP_1, None): Decimal(4),
        ("conversion_value", SEP_1, "EUR"): Decimal(400),
        ("reach", SEP_1, None): Decimal(4000),
    }


def write_acme(settings: Settings) -> None:
    """Every raw table of ACME_RAW."""
    for table, rows in ACME_RAW.items():
        write_raw(settings, table, rows)
