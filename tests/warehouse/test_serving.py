"""The serving layer on real loads: the rollups read the same answers from published Parquet and from PostgreSQL,
and the results routes over emulator data give the emulator's own numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from api.auth import mint_token
from api.main import create_app
from pipelines.emulator import synthetic
from pipelines.emulator.accounts import emulator_credentials
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.warehouse.conftest import COMPANY, END, START
from warehouse.app_database import upgrade
from warehouse.models import MART_MODELS, model_sql
from warehouse.serving import CURRENT, ParquetMarts, PostgresMarts, RollupCache, publish

AD_ACCOUNTS = {
    "meta_ads": emulator_credentials("meta_ads", 1)["ad_account_id"],
    "google_ads": emulator_credentials("google_ads", 1)["customer_id"],
    "tiktok_ads": emulator_credentials("tiktok_ads", 1)["advertiser_id"],
}
BOUNDS = {"period_start": START, "period_end": END, "prior_start": date(2026, 8, 1), "prior_end": date(2026, 8, 30)}
# Settled days of a company whose Meta and TikTok loads reach into the month, Google never loaded, Shopify late.
SETTLED = {
    "meta_ads_settled_through": date(2026, 9, 10),
    "google_ads_settled_through": None,
    "tiktok_ads_settled_through": date(2026, 9, 20),
    "ads_settled_through": date(2026, 9, 10),
    "commerce_settled_through": date(2026, 9, 23),
    "analytics_settled_through": None,
}
ROLLUPS = {
    "periods": [{"period_type": t, "period_end": END} for t in ("week", "month", "quarter", "year")],
    "results_metrics": [{"company_id": COMPANY, **BOUNDS, **SETTLED}],
    "campaigns": [
        {"company_id": COMPANY, "platform": platform, "sort_by": sort_by, "sort_dir": sort_dir, **BOUNDS}
        for platform in (None, "meta_ads")
        for sort_by, sort_dir in (("spend", "desc"), ("campaign_name", "asc"), ("roas", "asc"))
    ],
    "campaign_daily_spend": [
        {"company_id": COMPANY, "platform": platform, **BOUNDS, **SETTLED} for platform in (None, "google_ads")
    ],
}


def rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with floats rounded to 6 places, in their order: engines differ in the last bits of a sum."""
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in rows]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("rollup", "params"), [(name, params) for name, cases in ROLLUPS.items() for params in cases], ids=str
)
def test_rollups_agree_between_published_parquet_and_postgres(
    duckdb_settings: Settings, postgres_settings: Settings, rollup: str, params: dict[str, Any]
) -> None:
    parquet = ParquetMarts(duckdb_settings.serving_dir)
    assert postgres_settings.warehouse_url
    postgres = PostgresMarts(postgres_settings.warehouse_url)
    try:
        with parquet.session(COMPANY) as from_parquet, postgres.session(COMPANY) as from_postgres:
            duck, pg = from_parquet.rows(rollup, **params), from_postgres.rows(rollup, **params)
    finally:
        parquet.close()
        postgres.close()
    assert duck
    assert rounded(duck) == rounded(pg)


@contextmanager
def changed(warehouse: duckdb.DuckDBPyConnection, statement: str) -> Iterator[None]:
    """The loaded warehouse with ``statement`` applied, rolled back afterwards: other tests share it."""
    warehouse.execute("begin")
    try:
        warehouse.execute(statement)
        yield
    finally:
        warehouse.execute("rollback")


DOUBLE_SPEND = "update marts.metric_daily set value = value * 2 where metric_key = 'spend'"


def test_publishing_flips_each_changed_company_to_a_complete_new_version(
    duckdb_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    serving = tmp_path / "serving"
    first = publish(duckdb_warehouse, serving)
    (serving / "gone-company").mkdir()
    unchanged = publish(duckdb_warehouse, serving)
    company = serving / COMPANY
    assert (first.companies, first.written) == (1, 1)
    assert (unchanged.companies, unchanged.written, unchanged.removed) == (1, 0, 1)
    assert (company / CURRENT).read_text() == first.version

    first_day = "delete from marts.campaign_daily where date = (select min(date) from marts.campaign_daily)"
    with changed(duckdb_warehouse, first_day):
        rows = duckdb_warehouse.execute("select count(*) from marts.campaign_daily").fetchone()
        second = publish(duckdb_warehouse, serving)
    assert second.written == 1
    assert (company / CURRENT).read_text() == second.version
    # The previous version stays for readers that resolved it; nothing half-written is left behind.
    assert sorted(p.name for p in company.iterdir()) == sorted([CURRENT, first.version, second.version])
    path = company / second.version / "campaign_daily.parquet"
    assert duckdb_warehouse.execute(f"select count(*) from read_parquet('{path}')").fetchone() == rows


def test_a_serving_path_that_looks_like_a_parameter_is_read_as_a_path(
    duckdb_warehouse: duckdb.DuckDBPyConnection, duckdb_settings: Settings, tmp_path: Path
) -> None:
    """Parameters are rewritten before the company's file path is put into the rollup, never inside the path."""
    serving = tmp_path / ":company_id" / "serving"
    publish(duckdb_warehouse, serving)
    expected_marts = ParquetMarts(duckdb_settings.serving_dir)
    odd_marts = ParquetMarts(serving)
    params = ROLLUPS["results_metrics"][0]
    try:
        with expected_marts.session(COMPANY) as expected, odd_marts.session(COMPANY) as odd:
            rows = odd.rows("results_metrics", **params)
            assert rows
            assert rows == expected.rows("results_metrics", **params)
    finally:
        expected_marts.close()
        odd_marts.close()


@pytest.mark.parametrize("mart", MART_MODELS)
def test_marts_have_the_columns_of_their_empty_stand_ins(
    duckdb_warehouse: duckdb.DuckDBPyConnection, mart: str
) -> None:
    columns = duckdb_warehouse.execute(f"describe marts.{mart}").fetchall()
    empty = duckdb_warehouse.execute(f"describe {model_sql('marts', 'empty', mart + '.sql')}").fetchall()
    assert [column[:2] for column in columns] == [column[:2] for column in empty]


@contextmanager
def serve_api(loaded: Settings, tmp_path: Path) -> Iterator[httpx.Client]:
    """The API, with its default settings, over a loaded warehouse, with a token for the loaded company."""
    settings = loaded.model_copy(
        update={"demo": True, "app_database_url": f"sqlite:///{tmp_path / 'app.db'}", "data_dir": loaded.data_dir}
    ).with_demo_secrets()
    upgrade(settings.resolved_app_database_url)
    token = mint_token(settings, "analyst", ["clients:view"], [COMPANY])
    with serve_in_thread(create_app(settings)) as url, httpx.Client(base_url=url) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    """The API over one of the loaded warehouses."""
    with serve_api(request.getfixturevalue(f"{request.param}_settings"), tmp_path) as http:
        yield http


def test_the_api_answers_from_each_new_publish_at_once(
    duckdb_warehouse: duckdb.DuckDBPyConnection, duckdb_settings: Settings, tmp_path: Path
) -> None:
    """The API remembers answers per published version, so a publish shows in the very next request."""

    def spend(http: httpx.Client) -> float:
        body = http.get(f"/api/clients/{COMPANY}/results", params={"period_end": END.isoformat()}).json()
        return next(metric["value"] for metric in body["metrics"] if metric["metric_key"] == "spend")

    with serve_api(duckdb_settings, tmp_path) as http:
        before = [spend(http), spend(http)]
        with changed(duckdb_warehouse, DOUBLE_SPEND):
            publish(duckdb_warehouse, duckdb_settings.serving_dir)
        doubled = spend(http)
        publish(duckdb_warehouse, duckdb_settings.serving_dir)
        restored = spend(http)
    assert before[0] == before[1]
    assert doubled == pytest.approx(2 * before[0])
    assert restored == pytest.approx(before[0])


def emulated_days() -> list[tuple[str, synthetic.Campaign, date, synthetic.DayMetrics]]:
    """Every campaign-day the emulator serves for the loaded ad accounts in September 2026."""
    return [
        (platform, campaign, day, metrics)
        for platform, account_id in AD_ACCOUNTS.items()
        for campaign in synthetic.campaigns(platform, account_id)
        for day in synthetic.days(START, END)
        if (metrics := synthetic.campaign_day(platform, account_id, campaign, day)) is not None
    ]


def test_results_of_a_month_are_the_emulators_numbers(api: httpx.Client) -> None:
    body = api.get(f"/api/clients/{COMPANY}/results", params={"period_end": END.isoformat()}).json()
    metrics = {metric["metric_key"]: metric for metric in body["metrics"]}
    delivered = emulated_days()
    spend = sum(metrics.spend for *_, metrics in delivered)
    clicks = sum(metrics.clicks for *_, metrics in delivered)
    conversions = sum(metrics.conversions for *_, metrics in delivered)
    value = sum(metrics.conversion_value for *_, metrics in delivered)
    assert metrics["spend"]["value"] == pytest.approx(float(spend))
    assert metrics["spend"]["currency"] == "USD"
    assert metrics["clicks"]["value"] == clicks
    assert metrics["conversions"]["value"] == conversions
    assert metrics["roas"]["value"] == pytest.approx(float(value / spend))
    assert metrics["cpa"]["value"] == pytest.approx(float(spend / conversions))
    assert metrics["spend"]["prior_value"] is None and metrics["spend"]["delta_pct"] is None
    assert {"revenue", "orders", "sessions", "key_events"} <= set(metrics)


def test_campaigns_and_sparklines_are_the_emulators_numbers(api: httpx.Client) -> None:
    params = {"period_end": END.isoformat()}
    campaigns = api.get(f"/api/clients/{COMPANY}/results/campaigns", params=params).json()["campaigns"]
    expected: dict[str, Decimal] = {}
    for _platform, campaign, _day, metrics in emulated_days():
        expected[campaign.id] = expected.get(campaign.id, Decimal(0)) + metrics.spend
    spent = {c["campaign_id"]: c["spend"] for c in campaigns if c["spend"]}
    assert spent == {cid: pytest.approx(float(total)) for cid, total in expected.items() if total}
    assert [c["spend"] for c in campaigns] == sorted((c["spend"] for c in campaigns), reverse=True)
    top = campaigns[0]
    daily = api.get(f"/api/clients/{COMPANY}/results/campaigns/daily", params=params).json()["daily"]
    platform, campaign = next((p, c) for p, c, _, _ in emulated_days() if c.id == top["campaign_id"])
    by_day = {day: m.spend for p, c, day, m in emulated_days() if c.id == campaign.id}
    assert daily[top["campaign_id"]] == [
        # No connection has recorded a load here, so no day is known to be maturing.
        {
            "date": day.isoformat(),
            "spend": pytest.approx(float(by_day.get(day, 0))),
            "platform": platform,
            "maturing": False,
        }
        for day in synthetic.days(START, END)
    ]
    assert platform == top["platform"]


def test_the_period_calendar_is_computed_once_per_question() -> None:
    """A rollup that reads no mart is a pure function of its parameters: the second ask is not run again."""
    cache = RollupCache(max_cells=4)
    runs: list[str] = []

    def run(answer: str) -> list[dict[str, Any]]:
        runs.append(answer)
        return [{"answer": answer}]

    first = cache.rows(("periods", "month"), lambda: run("month"))
    first[0]["answer"] = "changed by the caller"
    again = cache.rows(("periods", "month"), lambda: run("not asked"))
    assert again == [{"answer": "month"}]
    assert runs == ["month"]

    for other in ("week", "quarter", "year", "day"):
        cache.rows(("periods", other), lambda other=other: run(other))
    cache.rows(("periods", "month"), lambda: run("month, evicted"))
    assert runs == ["month", "week", "quarter", "year", "day", "month, evicted"]


def test_the_cache_is_bounded_in_cells_and_keeps_no_answer_larger_than_a_quarter_of_it() -> None:
    cache = RollupCache(max_cells=40)
    runs: list[str] = []

    def run(name: str, rows: int, columns: int = 2) -> list[dict[str, Any]]:
        runs.append(name)
        return [{f"c{column}": row for column in range(columns)} for row in range(rows)]

    cache.rows("large", lambda: run("large", 6))
    cache.rows("large", lambda: run("large", 6))
    assert runs == ["large", "large"]
    for name in ("a", "b", "c", "d"):
        cache.rows(name, lambda name=name: run(name, 5))
    # Four answers of 10 cells fill the 40; asking for "a" again makes "b" the least recently used.
    cache.rows("a", lambda: run("a, again", 5))
    cache.rows("e", lambda: run("e", 5))
    cache.rows("c", lambda: run("c, again", 5))
    cache.rows("b", lambda: run("b, evicted", 5))
    assert runs[2:] == ["a", "b", "c", "d", "e", "b, evicted"]
    assert cache.cells == 40
    assert RollupCache(max_cells=0).rows("x", lambda: run("x", 1)) == [{"c0": 0, "c1": 0}]


def test_answers_are_remembered_per_published_version_and_never_outlive_it(
    duckdb_warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A version folder is never rewritten, so its answers are kept; the next publish is read at once."""
    serving = tmp_path / "serving"
    first = publish(duckdb_warehouse, serving)
    marts = ParquetMarts(serving, cache_cells=100_000)
    params = ROLLUPS["results_metrics"][0]

    def values() -> dict[str, Any]:
        with marts.session(COMPANY) as session:
            return {row["metric_key"]: row["value"] for row in session.rows("results_metrics", **params)}

    try:
        before = values()
        for parquet in (serving / COMPANY / first.version).iterdir():
            parquet.unlink()
        assert values() == before

        with changed(duckdb_warehouse, DOUBLE_SPEND):
            publish(duckdb_warehouse, serving)
        after = values()
    finally:
        marts.close()
    assert after["spend"] == pytest.approx(2 * before["spend"])
    assert after["clicks"] == before["clicks"]
    assert after["cpc"] == pytest.approx(2 * before["cpc"])
