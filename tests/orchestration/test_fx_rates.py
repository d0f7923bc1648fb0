"""The fx source and its assets: the ECB's XML, served by the emulator, loaded into the warehouse and made into the
rates every conversion reads, on DuckDB (published as Parquet) and on PostgreSQL.

Expected rows come from the emulator over HTTP, parsed here with the standard library's XML parser.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
import sqlalchemy as sa

from orchestration.assets.fx import fx_rates, fx_rates_catch_up_sensor, fx_reference_rates
from orchestration.resources import TallyResource
from tests.databases import temporary_postgres_database
from warehouse.models import Warehouse, query

CUBE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}Cube"
HISTORY_START = date(2026, 10, 1)
# The fx source keeps two weeks before the first partition day, for the rates that carry over into it.
FIRST_KEPT = HISTORY_START - timedelta(days=14)
FRIDAY, SATURDAY, MONDAY = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 23)
KINDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


def emulator_rates(emulator: httpx.Client, file: str) -> dict[tuple[date, str], Decimal]:
    """Every (day, currency) rate of one of the emulator's eurofxref files."""
    root = ElementTree.fromstring(emulator.get(f"/stats/eurofxref/{file}").content)
    return {
        (date.fromisoformat(day.attrib["time"]), quote.attrib["currency"]): Decimal(quote.attrib["rate"])
        for day in root.iter(CUBE)
        if "time" in day.attrib
        for quote in day.iter(CUBE)
        if "currency" in quote.attrib
    }


@pytest.fixture(params=KINDS)
def rates_tally(
    request: pytest.FixtureRequest, tally: TallyResource, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TallyResource]:
    """The Tally resource with a short history, on a DuckDB or a PostgreSQL warehouse."""
    monkeypatch.setenv("TALLY_HISTORY_START", HISTORY_START.isoformat())
    if request.param == "duckdb":
        yield tally
        return
    with temporary_postgres_database("tally_fx") as url:
        yield TallyResource(
            data_dir=tally.data_dir,
            app_database_url=tally.app_database_url,
            platform_base_url=tally.platform_base_url,
            warehouse_url=url,
        )


def warehouse_rows(resource: TallyResource, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query on the resource's warehouse."""
    settings = resource.settings
    if settings.warehouse_url:
        engine = sa.create_engine(settings.warehouse_url)
        try:
            with engine.connect() as connection:
                return read(connection, sql)
        finally:
            engine.dispose()
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return read(connection, sql)


def read(warehouse: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    return query(warehouse, sql)


def materialize(resource: TallyResource, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    result = dg.materialize([fx_reference_rates, fx_rates], resources={"tally": resource}, instance=instance)
    assert result.success
    return result


def ecb_requests(emulator: httpx.Client) -> int:
    return emulator.get("/_emulator/requests/ecb/eurofxref").json()["requests"]


def test_the_fx_source_loads_the_emulators_xml_and_then_only_new_days(
    rates_tally: TallyResource, emulator: httpx.Client, instance: dg.DagsterInstance
) -> None:
    emulator.put("/_emulator/today", params={"today": FRIDAY.isoformat()}).raise_for_status()
    materialize(rates_tally, instance)

    history = {
        key: rate for key, rate in emulator_rates(emulator, "eurofxref-hist.xml").items() if key[0] >= FIRST_KEPT
    }
    loaded = warehouse_rows(rates_tally, "select date, currency, rate from raw_fx.reference_rates")
    assert {(day, currency): Decimal(rate) for day, currency, rate in loaded} == history
    assert len(loaded) == len(history)

    # Saturday takes Friday's rate: Friday's span runs to Monday, the next publication day.
    spans = warehouse_rows(
        rates_tally, "select currency, rate_per_eur, valid_from, valid_until from marts.fx_rates where currency = 'GBP'"
    )
    (friday,) = [span for span in spans if span[2] <= SATURDAY < span[3]]
    assert friday[2] == FRIDAY and Decimal(friday[1]) == history[(FRIDAY, "GBP")]
    assert friday[3] == date(9999, 12, 31)  # the latest publication carries over until the next is loaded
    euro = warehouse_rows(rates_tally, "select count(*), min(rate_per_eur), max(rate_per_eur) from marts.fx_rates "
                                       "where currency = 'EUR'")  # fmt: skip
    assert euro == [(len({day for day, _ in history}), 1, 1)]

    # Monday: the daily file brings the one new day; the history is not asked for again.
    emulator.put("/_emulator/today", params={"today": MONDAY.isoformat()}).raise_for_status()
    before = ecb_requests(emulator)
    materialize(rates_tally, instance)
    assert ecb_requests(emulator) == before + 1
    monday = emulator_rates(emulator, "eurofxref-daily.xml")
    added = warehouse_rows(rates_tally, f"select currency, rate from raw_fx.reference_rates where date = '{MONDAY}'")
    assert {(MONDAY, currency): Decimal(rate) for currency, rate in added} == monday
    spans = warehouse_rows(
        rates_tally, "select valid_from, valid_until from marts.fx_rates where currency = 'GBP' order by valid_from"
    )
    assert spans[-2:] == [(FRIDAY, MONDAY), (MONDAY, date(9999, 12, 31))]


def test_a_gap_in_the_loaded_days_reads_the_history_again(
    rates_tally: TallyResource, emulator: httpx.Client, instance: dg.DagsterInstance
) -> None:
    emulator.put("/_emulator/today", params={"today": date(2026, 11, 10).isoformat()}).raise_for_status()
    materialize(rates_tally, instance)
    emulator.put("/_emulator/today", params={"today": MONDAY.isoformat()}).raise_for_status()
    materialize(rates_tally, instance)
    history = {key for key in emulator_rates(emulator, "eurofxref-hist.xml") if key[0] >= FIRST_KEPT}
    loaded = warehouse_rows(rates_tally, "select date, currency from raw_fx.reference_rates")
    assert set(loaded) == history and len(loaded) == len(history)


def test_the_rates_are_published_for_the_api(
    tally: TallyResource, emulator: httpx.Client, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALLY_HISTORY_START", HISTORY_START.isoformat())
    emulator.put("/_emulator/today", params={"today": FRIDAY.isoformat()}).raise_for_status()
    result = materialize(tally, instance)
    rates_dir = Path(tally.settings.rates_serving_dir)
    version = (rates_dir / "CURRENT").read_text().strip()
    (metadata,) = [
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(["marts", "fx_rates"])
    ]
    assert metadata["published_version"].value == version
    with duckdb.connect() as reader:
        published = reader.execute(f"select count(*) from '{rates_dir / version / 'fx_rates.parquet'}'").fetchone()
    assert published == warehouse_rows(tally, "select count(*) from marts.fx_rates")[0]
    # A load that brings nothing new keeps the published version, so the API keeps its remembered answers.
    materialize(tally, instance)
    assert (rates_dir / "CURRENT").read_text().strip() == version


def test_an_ecb_failure_fails_the_load_with_its_reason(
    tally: TallyResource, emulator: httpx.Client, instance: dg.DagsterInstance
) -> None:
    emulator.put("/_emulator/faults/ecb/eurofxref", json={"server_error": 10}).raise_for_status()
    result = dg.materialize([fx_reference_rates], resources={"tally": tally}, instance=instance, raise_on_error=False)
    assert not result.success
    (failure,) = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    assert "European Central Bank: server error after retries: HTTP 500" in str(failure.event_specific_data)


def test_rates_never_loaded_are_asked_for_and_not_again_once_loaded(
    tally: TallyResource, emulator: httpx.Client, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALLY_HISTORY_START", HISTORY_START.isoformat())
    asked = fx_rates_catch_up_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(asked, dg.RunRequest)
    assert asked.run_key == f"fx-rates-catch-up-{datetime.now(UTC).date().isoformat()}"
    materialize(tally, instance)
    assert isinstance(fx_rates_catch_up_sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)
