"""Serve a test's own hand-written mart rows: published from DuckDB, or in a PostgreSQL warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.databases import temporary_postgres_database
from tests.fake_openai import MODEL, FakeOpenAI
from tests.results_data import Fixture, build, build_duckdb
from warehouse.app_tables import connections
from warehouse.rates import publish_rates
from warehouse.serving import publish

KINDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def served_marts(kind: str, data: Fixture, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The settings updates that make the API read ``data``'s marts from a ``kind`` warehouse."""
    if kind == "duckdb":
        data_dir = tmp_path_factory.mktemp("hand_marts")
        with build_duckdb(str(data_dir / "warehouse.duckdb"), data) as warehouse:
            publish(warehouse, data_dir / "serving")
            publish_rates(warehouse, data_dir / "serving_rates")
        yield {"data_dir": data_dir}
        return
    with temporary_postgres_database("tally_hand_marts") as url:
        engine = sa.create_engine(url)
        with engine.begin() as warehouse:
            build(warehouse, data)
        engine.dispose()
        yield {"warehouse_url": url}


def add_loaded_connection(
    engine: sa.Engine, company_id: str, platform: str, loaded_through: date | None, status: str = "active"
) -> None:
    """A connection row as loads leave it: connected, its loads having covered days through ``loaded_through``."""
    stamp = sa.func.current_timestamp()
    with engine.begin() as db:
        db.execute(
            connections.insert().values(
                id=f"{company_id}-{platform}",
                company_id=company_id,
                platform=platform,
                status=status,
                source="manual",
                scopes=[],
                loaded_through=loaded_through,
                created_at=stamp,
                updated_at=stamp,
            )
        )


@contextmanager
def served_api(
    settings: Settings, marts: dict[str, Any], model: FakeOpenAI | None, token: str, engine: sa.Engine | None = None
) -> Iterator[httpx.Client]:
    """A client of the API reading ``marts`` and asking the fake ``model`` (reset; None: no model is configured),
    authenticated by ``token``."""
    if model is None:
        updates = marts | {"llm_model": None}
    else:
        model.reset()
        updates = marts | {"openai_base_url": model.url, "openai_api_key": SecretStr("sk-test"), "llm_model": MODEL}
    app = create_app(settings.model_copy(update=updates), engine=engine)
    headers = {"Authorization": f"Bearer {token}"}
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        yield http
