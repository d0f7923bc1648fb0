"""Fixtures of the results and goals routes: hand-made marts in each kind of warehouse, and an API reading them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.api.conftest import TokenMaker
from tests.databases import temporary_postgres_database
from tests.results_data import DATA, build, build_duckdb
from warehouse.serving import publish


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The fixture's marts in a published DuckDB warehouse or a PostgreSQL one; the settings that reach them."""
    if request.param == "duckdb":
        data_dir = tmp_path_factory.mktemp("results")
        with build_duckdb(str(data_dir / "warehouse.duckdb"), DATA) as warehouse:
            publish(warehouse, data_dir / "serving")
        yield {"data_dir": data_dir}
        return
    with temporary_postgres_database("tally_results") as url:
        engine = sa.create_engine(url)
        with engine.begin() as warehouse:
            build(warehouse, DATA)
        engine.dispose()
        yield {"warehouse_url": url}


@pytest.fixture()
def results(api_settings: Settings, warehouse_settings: dict, make_token: TokenMaker) -> Iterator[httpx.Client]:
    """A client of the API reading the fixture's marts, allowed to view acme, globex and initech."""
    app = create_app(api_settings.model_copy(update=warehouse_settings))
    token = make_token(companies=["acme", "globex", "initech"])
    with (
        serve_in_thread(app, ready_path="/readyz") as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        yield http
