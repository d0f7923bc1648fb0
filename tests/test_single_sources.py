"""Each list of platforms, tables and sort keys has one source; these tests fail when a second copy would drift.

- the platforms and their kinds: ``pipelines.registry.PLATFORMS`` (the backfill's ad platforms are its ``"ads"``)
- each platform's raw tables: its ``PlatformSpec.raw_tables``, checked against the tables its dlt source loads
- the staging models: the files of ``sql/staging/``, checked against the registry and the raw tables they read
- the ad platforms of the campaign_daily mart: the union in ``sql/marts/campaign_daily.sql``, checked against
  the registry
- the campaign sort keys: the CASE of ``sql/rollups/campaigns.sql``, checked against the REST contract

Expected values are written by hand from DESIGN.md and /work/shared/api-reference.txt, never read from the code.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
import sqlglot
from pydantic import SecretStr
from sqlglot import exp

from pipelines import fx
from pipelines.emulator.accounts import emulator_credentials
from pipelines.registry import PLATFORMS, platforms_of_kind
from tally.settings import Settings
from warehouse.models import STAGING_MODELS, duckdb_parameters, model_sql, staging_models
from warehouse.query_values import SORT_COLUMNS, sort_columns
from warehouse.vault import generate_key

# DESIGN.md: the ad platforms are Meta, Google Ads and TikTok; Shopify is commerce and GA4 analytics.
AD_PLATFORMS = ("meta_ads", "google_ads", "tiktok_ads")
# The contract's options of GET /results/campaigns?sort_by, in its order.
CONTRACT_SORT_BY = (
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


def tables_read(sql: str, cte: str | None = None) -> set[tuple[str, str]]:
    """The (schema, table) relations a statement reads, following its CTEs; only through ``cte`` when named."""
    tree = sqlglot.parse_one(sql, read="postgres")
    ctes = {node.alias: node.this for node in tree.find_all(exp.CTE)}

    def reads(node: exp.Expression, seen: frozenset[str]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for table in node.find_all(exp.Table):
            if not table.db and table.name in ctes and table.name not in seen:
                found |= reads(ctes[table.name], seen | {table.name})
            elif table.db:
                found.add((table.db, table.name))
        return found

    return reads(ctes[cte], frozenset({cte})) if cte else reads(tree, frozenset())


def test_the_registry_kinds_make_meta_google_and_tiktok_the_ad_platforms() -> None:
    assert platforms_of_kind("ads") == AD_PLATFORMS
    assert platforms_of_kind("commerce") == ("shopify",)
    assert platforms_of_kind("analytics") == ("ga4",)
    with pytest.raises(ValueError, match="kind must be one of ads, commerce, analytics"):
        platforms_of_kind("ad")


def source_tables(platform: str) -> list[str]:
    """The tables the platform's dlt source loads (its resources), from a source built as a run builds it."""
    spec = PLATFORMS[platform]
    credentials = spec.credentials_model.model_validate(emulator_credentials(platform))
    source = spec.source(
        credentials, start_date=date(2024, 3, 1), end_date=date(2024, 3, 2), company_id="acme", settings=Settings()
    )
    return list(source.resources)


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_a_platform_lists_exactly_the_tables_its_source_loads(platform: str) -> None:
    assert [table.name for table in PLATFORMS[platform].raw_tables] == source_tables(platform)
    assert all(table.description.strip() for table in PLATFORMS[platform].raw_tables)


def test_the_dagster_raw_assets_are_the_tables_the_sources_load() -> None:
    """One asset ``raw/<platform>/<table>`` per table a platform's dlt source loads, described by the platform."""
    from orchestration.assets.raw import raw_assets

    loaded = {("raw", platform, table) for platform in PLATFORMS for table in source_tables(platform)}
    assets = {tuple(key.path): spec for asset in raw_assets for key, spec in asset.specs_by_key.items()}
    assert set(assets) == loaded
    assert assets[("raw", "ga4", "traffic_daily")].description == (
        "GA4 sessions, key events and revenue per day, session campaign and source/medium."
    )


def test_staging_models_are_the_files_of_sql_staging() -> None:
    """A staging model is its file; adding a platform's staging SQL is the one step, no list to extend."""
    assert {model.name for model in STAGING_MODELS} == {
        "stg_meta_ads__campaign_daily",
        "stg_meta_ads__campaigns",
        "stg_google_ads__campaign_daily",
        "stg_google_ads__campaigns",
        "stg_tiktok_ads__campaign_daily",
        "stg_tiktok_ads__campaigns",
        "stg_shopify__daily_sales",
        "stg_ga4__traffic_daily",
        "stg_fx__reference_rates",
    }
    stand_ins = {model.name: model.empty for model in STAGING_MODELS}
    assert stand_ins["stg_tiktok_ads__campaigns"] == "ad_campaigns"
    assert stand_ins["stg_google_ads__campaign_daily"] == "ad_campaign_daily"
    assert stand_ins["stg_shopify__daily_sales"] == "daily_sales"


@pytest.mark.parametrize("model", STAGING_MODELS, ids=lambda model: model.name)
def test_a_staging_model_reads_the_raw_table_of_a_registry_platform_its_name_says(model: Any) -> None:
    platform = model.raw_schema.removeprefix("raw_")
    # The ECB's reference rates are a source of their own, no client's platform (pipelines/fx).
    tables = list(fx.RAW_TABLES) if platform == "fx" else [table.name for table in PLATFORMS[platform].raw_tables]
    assert model.raw_table in tables
    sql = model_sql("staging", f"{model.name}.sql")
    assert {relation for relation in tables_read(sql) if relation[0].startswith("raw_")} == {
        (model.raw_schema, model.raw_table)
    }


def test_a_new_platforms_staging_file_is_a_model_and_a_misnamed_or_standless_one_is_refused(tmp_path: Any) -> None:
    staging = tmp_path / "staging"
    (staging / "empty").mkdir(parents=True)
    (staging / "empty" / "ad_campaign_daily.sql").write_text("select 1")
    (staging / "stg_linkedin_ads__campaign_daily.sql").write_text("select 1")
    [model] = staging_models(staging)
    assert (model.name, model.raw_schema, model.raw_table, model.empty) == (
        "stg_linkedin_ads__campaign_daily",
        "raw_linkedin_ads",
        "campaign_daily",
        "ad_campaign_daily",
    )
    (staging / "stg_linkedin_ads__creatives.sql").write_text("select 1")
    with pytest.raises(ValueError, match="exactly one stand-in, sql/staging/empty/creatives.sql"):
        staging_models(staging)
    (staging / "stg_linkedin_ads__creatives.sql").unlink()
    (staging / "stg_linkedin.sql").write_text("select 1")
    with pytest.raises(ValueError, match="stg_linkedin.sql: a staging model is named stg_<platform>__<table>.sql"):
        staging_models(staging)


@pytest.mark.parametrize("platform", AD_PLATFORMS)
def test_every_ad_platform_has_staging_models_in_the_campaign_daily_union(platform: str) -> None:
    assert platform in platforms_of_kind("ads")
    names = {model.name for model in STAGING_MODELS}
    assert {f"stg_{platform}__campaign_daily", f"stg_{platform}__campaigns"} <= names
    mart = model_sql("marts", "campaign_daily.sql")
    assert ("staging", f"stg_{platform}__campaign_daily") in tables_read(mart, "campaign_days")
    assert ("staging", f"stg_{platform}__campaigns") in tables_read(mart, "campaigns")


def test_the_campaign_daily_union_holds_exactly_the_registry_ad_platforms() -> None:
    """A platform in the union but not of kind "ads" (or the reverse) would be backfilled or summed wrongly."""
    mart = model_sql("marts", "campaign_daily.sql")
    days = {name for schema, name in tables_read(mart, "campaign_days") if schema == "staging"}
    campaigns = {name for schema, name in tables_read(mart, "campaigns") if schema == "staging"}
    assert days == {f"stg_{platform}__campaign_daily" for platform in platforms_of_kind("ads")}
    assert campaigns == {f"stg_{platform}__campaigns" for platform in platforms_of_kind("ads")}


def test_the_sort_keys_are_the_contracts_and_the_route_documents_them() -> None:
    from api.main import create_app

    assert SORT_COLUMNS == CONTRACT_SORT_BY
    settings = Settings(_env_file=None, encryption_keys=SecretStr(generate_key()), jwt_secret=SecretStr("s" * 32))
    document = create_app(settings, engine=sa.create_engine("sqlite://")).openapi()
    [parameter] = [
        parameter
        for parameter in document["paths"]["/api/clients/{companyId}/results/campaigns"]["get"]["parameters"]
        if parameter["name"] == "sort_by"
    ]
    assert parameter["schema"]["enum"] == list(CONTRACT_SORT_BY)


def test_sort_columns_are_read_from_the_case_branches() -> None:
    sql = (
        "select case :sort_by\n    when 'spend' then spend\n    WHEN  'cpc'\n then cpc\nend as n,\n"
        "case when :sort_by = 'campaign_name' then lower(campaign_name) end as t from x"
    )
    assert sort_columns(sql) == ("spend", "cpc", "campaign_name")
    with pytest.raises(ValueError, match="names no column or one twice: spend, spend"):
        sort_columns("select case :sort_by when 'spend' then spend when 'spend' then 1 end")
    with pytest.raises(ValueError, match="names no column"):
        sort_columns("select 1")


# Two campaigns of one company in March 2024, one day each. Hand-computed: frequency A 10000/5000 = 2, B 2000/400
# = 5; ROAS A 500/100 = 5, B 400/50 = 8; CPA A 100/10 = 10, B 50/1 = 50; CPM A 100/10000*1000 = 10, B 25; CTR A
# 200/10000*100 = 2, B 5. A is larger in every sum, B in every ratio; "alpha" sorts before "Beta" ignoring case.
CAMPAIGNS = [
    ("a", "alpha", 100, 10_000, 200, 10, 500, 5_000),
    ("b", "Beta", 50, 2_000, 100, 1, 400, 400),
]
FIRST_WHEN_DESCENDING = {
    "spend": "a",
    "impressions": "a",
    "clicks": "a",
    "conversions": "a",
    "conversion_value": "a",
    "reach": "a",
    "frequency": "b",
    "roas": "b",
    "cpa": "b",
    "cpm": "b",
    "ctr": "b",
    "campaign_name": "b",
}


@pytest.fixture(scope="module")
def campaign_marts() -> Any:
    """An in-memory DuckDB holding the two campaigns in a table of the campaign_daily mart's columns."""
    with duckdb.connect() as db:
        db.execute(f"create table campaign_daily as {model_sql('marts', 'empty', 'campaign_daily.sql')}")
        for campaign_id, name, spend, impressions, clicks, conversions, value, reach in CAMPAIGNS:
            db.execute(
                "insert into campaign_daily (company_id, platform, account_id, campaign_id, date, campaign_name, "
                "spend, impressions, clicks, conversions, conversion_value, reach, currency) "
                "values ('acme', 'meta_ads', '1', ?, date '2024-03-05', ?, ?, ?, ?, ?, ?, ?, 'USD')",
                [campaign_id, name, spend, impressions, clicks, conversions, value, reach],
            )
        yield db


@pytest.mark.parametrize("sort_by", CONTRACT_SORT_BY)
def test_every_sort_key_of_the_route_orders_by_its_column(campaign_marts: Any, sort_by: str) -> None:
    """A key the route allowed without a branch in the rollup's CASE would leave the order the same both ways."""
    assert set(FIRST_WHEN_DESCENDING) == set(SORT_COLUMNS)
    orders = {}
    for sort_dir in ("asc", "desc"):
        sql = model_sql("rollups", "campaigns.sql")
        result = campaign_marts.execute(
            duckdb_parameters(sql),
            {
                "company_id": "acme",
                "period_start": date(2024, 3, 1),
                "period_end": date(2024, 3, 31),
                "prior_start": date(2024, 2, 1),
                "prior_end": date(2024, 2, 29),
                "platform": None,
                "sort_by": sort_by,
                "sort_dir": sort_dir,
                "currency": None,
            },
        )
        columns = [column[0] for column in result.description]
        rows = [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        orders[sort_dir] = [row["campaign_id"] for row in rows if not row["is_total"]]
    first = FIRST_WHEN_DESCENDING[sort_by]
    other = "a" if first == "b" else "b"
    assert orders == {"desc": [first, other], "asc": [other, first]}
