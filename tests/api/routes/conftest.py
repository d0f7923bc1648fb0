"""Fixtures of the results and goals routes: hand-made marts in each kind of warehouse, and an API reading them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.api.conftest import TokenMaker
from tests.api.routes.hand_marts import KINDS, served_marts
from tests.results_data import DATA


@pytest.fixture(scope="module", params=KINDS)
def warehouse_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The fixture's marts in a published DuckDB warehouse or a PostgreSQL one; the settings that reach them."""
    with served_marts(request.param, DATA, tmp_path_factory) as updates:
        yield updates


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
