"""The SQL models on real loads: 30 days of every platform from the emulator, through the real pipelines, into a
DuckDB warehouse and a PostgreSQL warehouse; the marts must agree row for row and with the emulator's numbers.
metric_daily is checked against raw rows written by hand and totals added up by hand.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.emulator import synthetic
from pipelines.emulator.accounts import emulator_credentials
from tally.settings import Settings
from tests.warehouse.conftest import END, START, load, warehouse_settings
from tests.warehouse.raw_tables import ACME_METRICS, globex_meta, globex_metrics, metric_rows, write_acme, write_raw
from warehouse.models import STAGING_MODELS, StagingModel, Warehouse, empty_sql, model_sql, query, run_models
from warehouse.serving import refresh_marts

MART_KEYS = {
    "campaign_daily": ("company_id", "platform", "account_id", "campaign_id", "date"),
    "metric_daily": ("company_id", "metric_key", "date", "currency"),
}


def normalised(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with numbers rounded to 6 places, sorted, so two engines' answers compare exactly."""
    rounded = [tuple(round(Decimal(str(v)), 6) if isinstance(v, Decimal | float) else v for v in row) for row in rows]
    return sorted(rounded, key=lambda row: tuple("" if v is None else str(v) for v in row))


@pytest.mark.postgres
@pytest.mark.parametrize("mart", list(MART_KEYS))
def test_marts_agree_between_duckdb_and_postgres(
    duckdb_warehouse: Warehouse, postgres_warehouse: Warehouse, mart: str
) -> None:
    duck, pg = (normalised(query(db, f"select * from marts.{mart}")) for db in (duckdb_warehouse, postgres_warehouse))
    assert duck
    assert duck == pg


@pytest.mark.parametrize(("mart", "key"), list(MART_KEYS.items()))
def test_marts_hold_their_grain(warehouse: Warehouse, mart: str, key: tuple[str, ...]) -> None:
    listed = ", ".join(key)
    duplicates = query(warehouse, f"select {listed}, count(*) from marts.{mart} group by {listed} having count(*) > 1")
    assert duplicates == []
    required = " or ".join(f"{column} is null" for column in key if column != "currency")
    assert query(warehouse, f"select count(*) from marts.{mart} where {required}") == [(0,)]


def test_meta_campaign_days_match_the_emulator(warehouse: Warehouse) -> None:
    """Spend and purchases of each delivered campaign-day, and budgets in major units, as the emulator made them."""
    account_id = emulator_credentials("meta_ads", 1)["ad_account_id"]
    expected = []
    for campaign in synthetic.campaigns("meta_ads", account_id):
        for day in synthetic.days(START, END):
            metrics = synthetic.campaign_day("meta_ads", account_id, campaign, day)
            if metrics is not None and metrics.impressions:
                budgets = (campaign.daily_budget, campaign.lifetime_budget)
                expected.append((campaign.id, day, metrics.spend, Decimal(metrics.conversions), *budgets))
    rows = query(
        warehouse,
        "select campaign_id, date, spend, conversions, daily_budget, lifetime_budget from marts.campaign_daily "
        f"where platform = 'meta_ads' and account_id = '{account_id}'",
    )
    assert expected
    assert normalised(rows) == normalised(expected)


def test_metric_daily_adds_up_hand_written_raw_rows(empty_warehouse: Settings) -> None:
    """Each metric per company, day and currency is the sum of the raw rows written here, added up by hand."""
    write_acme(empty_warehouse)
    write_raw(empty_warehouse, "raw_meta_ads.campaign_daily", globex_meta("100"))
    refresh_marts(empty_warehouse)
    assert metric_rows(empty_warehouse, "acme") == ACME_METRICS
    assert metric_rows(empty_warehouse, "globex") == globex_metrics("100")


def test_a_client_with_only_a_store_still_gets_marts(tmp_path: Path, emulator_url: str) -> None:
    """The ad platforms' staging models become empty stand-ins, and the marts hold the store's metrics."""
    settings = warehouse_settings(tmp_path, emulator_url)
    load(settings, ["shopify"])
    with duckdb.connect(str(settings.duckdb_path)) as db:
        built = run_models(db).built
        assert [name for name, loaded in built.items() if loaded] == ["stg_shopify__daily_sales"]
        assert db.execute("select count(*) from marts.campaign_daily").fetchone() == (0,)
        keys = db.execute("select distinct metric_key from marts.metric_daily").fetchall()
    assert {key for (key,) in keys} == {"revenue", "orders"}


@pytest.mark.parametrize("model", STAGING_MODELS, ids=lambda model: model.name)
def test_staging_models_have_the_columns_of_their_empty_stand_ins(
    duckdb_warehouse: duckdb.DuckDBPyConnection, model: StagingModel
) -> None:
    columns = duckdb_warehouse.execute(f"describe {model_sql('staging', model.name + '.sql')}").fetchall()
    empty = duckdb_warehouse.execute(f"describe {empty_sql(model)}").fetchall()
    assert [column[:2] for column in columns] == [column[:2] for column in empty]
