"""Warehouses loaded with 30 days of every platform and the ECB's reference rates from the emulator, through the
real pipelines and models: one DuckDB file and one PostgreSQL database, shared by the warehouse tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pytest
import sqlalchemy as sa

from pipelines.emulator.accounts import emulator_credentials
from pipelines.fx import rates_pipeline
from pipelines.fx import source as fx_source
from pipelines.loading import platform_pipeline
from pipelines.registry import PLATFORMS, get_platform
from tally.settings import Settings
from tests.databases import temporary_postgres_database
from warehouse.models import Warehouse
from warehouse.rates import refresh_rates
from warehouse.serving import refresh_marts

COMPANY = "acme"
START, END = date(2026, 9, 1), date(2026, 9, 30)


def warehouse_settings(data_dir: Path, emulator_url: str, warehouse_url: str | None = None) -> Settings:
    """Settings for one warehouse with the platforms at the emulator."""
    settings = Settings(_env_file=None, data_dir=data_dir, warehouse_url=warehouse_url, http_backoff_factor=0.01)
    return settings.point_platforms_at(emulator_url)


def load(settings: Settings, platforms: list[str]) -> None:
    """Load the window of each platform's first emulated account through its real pipeline."""
    for platform in platforms:
        spec = get_platform(platform)
        credentials = spec.credentials_model.model_validate(emulator_credentials(platform, 1))
        source = spec.source(credentials, start_date=START, end_date=END, company_id=COMPANY, settings=settings)
        platform_pipeline(platform, COMPANY, settings).run(source)


def load_rates(settings: Settings) -> None:
    """Load the ECB's reference rates from the emulator through the fx source, and build the rates mart."""
    rates_pipeline(settings, settings.data_dir / "dlt").run(fx_source(settings))
    refresh_rates(settings)


@pytest.fixture(scope="package")
def duckdb_settings(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> Settings:
    """Every platform loaded into a DuckDB warehouse file, modelled and published as a marts run does it."""
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()
    settings = warehouse_settings(tmp_path_factory.mktemp("duckdb"), emulator_url)
    load(settings, list(PLATFORMS))
    load_rates(settings)
    refresh_marts(settings)
    return settings


@pytest.fixture(scope="package")
def duckdb_warehouse(duckdb_settings: Settings) -> Iterator[Warehouse]:
    """A connection to the modelled DuckDB warehouse."""
    with duckdb.connect(str(duckdb_settings.duckdb_path)) as db:
        yield db


@pytest.fixture(scope="package")
def postgres_settings(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> Iterator[Settings]:
    """Every platform loaded into a PostgreSQL warehouse and modelled as a marts run does it."""
    httpx.post(f"{emulator_url}/_emulator/reset").raise_for_status()
    with temporary_postgres_database("tally_models") as url:
        settings = warehouse_settings(tmp_path_factory.mktemp("postgres"), emulator_url, url)
        load(settings, list(PLATFORMS))
        load_rates(settings)
        refresh_marts(settings)
        yield settings


@pytest.fixture(scope="package")
def postgres_warehouse(postgres_settings: Settings) -> Iterator[Warehouse]:
    """A connection to the modelled PostgreSQL warehouse."""
    assert postgres_settings.warehouse_url
    engine = sa.create_engine(postgres_settings.warehouse_url)
    with engine.connect() as pg:
        yield pg
    engine.dispose()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Each modelled warehouse in turn."""
    return request.getfixturevalue(f"{request.param}_warehouse")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for an empty warehouse of each kind in turn: no raw table, no model, nothing published."""
    if request.param == "duckdb":
        yield Settings(_env_file=None, data_dir=tmp_path)
        return
    with temporary_postgres_database("tally_refresh") as url:
        yield Settings(_env_file=None, data_dir=tmp_path, warehouse_url=url)
