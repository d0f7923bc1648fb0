"""The API on a real loopback port, over a migrated app database (SQLite and PostgreSQL), with token makers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.databases import temporary_postgres_database
from tests.fake_openai import MODEL, FakeOpenAI, serve_fake_openai
from tests.results_data import DATA, build_duckdb
from warehouse import app_tables
from warehouse.app_database import create_app_engine, upgrade
from warehouse.serving import publish
from warehouse.vault import generate_key

JWT_SECRET = "test-secret-for-tally-api-tests-0123456789"
COMPANY = "acme"
OTHER_COMPANY = "globex"
BOTH = ["clients:view", "clients:update"]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_kind(request: pytest.FixtureRequest) -> str:
    """Every API test runs against SQLite and PostgreSQL."""
    return request.param


@pytest.fixture(scope="session")
def postgres_app_url(database_kind: str) -> Iterator[str | None]:
    """One migrated PostgreSQL app database for the session (tables emptied between tests)."""
    if database_kind != "postgres":
        yield None
        return
    with temporary_postgres_database("tally_api") as url:
        upgrade(url)
        yield url


@pytest.fixture()
def app_database_url(database_kind: str, postgres_app_url: str | None, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty app database."""
    if database_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        upgrade(url)
        yield url
        return
    assert postgres_app_url is not None
    engine = sa.create_engine(postgres_app_url)
    with engine.begin() as db:
        db.execute(sa.text(f"TRUNCATE {', '.join(table.name for table in app_tables.metadata.sorted_tables)}"))
    engine.dispose()
    yield postgres_app_url


@pytest.fixture()
def api_settings(settings: Settings, app_database_url: str) -> Settings:
    """Settings of the API under test: emulator platforms, a real app database, real keys."""
    return settings.model_copy(
        update={
            "app_database_url": app_database_url,
            "encryption_keys": SecretStr(generate_key()),
            "jwt_secret": SecretStr(JWT_SECRET),
        }
    )


@pytest.fixture()
def app_engine(api_settings: Settings) -> Iterator[sa.Engine]:
    """An engine on the API's app database, for reading what the API stored."""
    engine = create_app_engine(api_settings.resolved_app_database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def api_url(api_settings: Settings, app_engine: sa.Engine) -> Iterator[str]:
    """Base URL of the API served by uvicorn on a free loopback port."""
    with serve_in_thread(create_app(api_settings, engine=app_engine), ready_path="/readyz") as url:
        yield url


TokenMaker = Callable[..., str]


@pytest.fixture()
def make_token() -> TokenMaker:
    """Sign a token; defaults give both permissions on COMPANY for an hour."""

    def make(
        permissions: list[str] | None = None,
        companies: list[str] | None = None,
        sub: str = "user-1",
        expires_in: timedelta = timedelta(hours=1),
        secret: str = JWT_SECRET,
    ) -> str:
        claims = {
            "sub": sub,
            "permissions": BOTH if permissions is None else permissions,
            "companies": [COMPANY] if companies is None else companies,
            "exp": datetime.now(UTC) + expires_in,
        }
        return jwt.encode(claims, secret, algorithm="HS256")

    return make


@pytest.fixture()
def client(api_url: str, make_token: TokenMaker) -> Iterator[httpx.Client]:
    """An HTTP client of the API authenticated for COMPANY with both permissions."""
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {make_token()}"}, timeout=60) as http:
        yield http


@pytest.fixture(scope="session")
def published_marts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose serving layer holds the results fixture's marts (``tests/results_data.py``) as Parquet."""
    data_dir = tmp_path_factory.mktemp("published")
    with build_duckdb(str(data_dir / "warehouse.duckdb"), DATA) as warehouse:
        publish(warehouse, data_dir / "serving")
    return data_dir


@pytest.fixture(scope="session")
def fake_model() -> Iterator[FakeOpenAI]:
    """A model server that answers every question (with nothing scripted unless a test scripts it)."""
    with serve_fake_openai() as fake:
        yield fake


@pytest.fixture()
def marts_and_model(published_marts: Path, fake_model: FakeOpenAI) -> dict[str, Any]:
    """Settings updates for an API that reads the published marts and asks the fake model."""
    fake_model.reset()
    return {
        "data_dir": published_marts,
        "openai_base_url": fake_model.url,
        "openai_api_key": SecretStr("sk-test-key"),
        "llm_model": MODEL,
    }


def seed_company(http: httpx.Client, company: str, display_name: str = "Main ad account") -> dict[str, str]:
    """A connection, a goal, a QBR and a backfill for ``company``, made through the API; the ids it made."""
    connection = {
        "platform": "meta_ads",
        "credentials": {"access_token": f"token-of-{company}", "ad_account_id": "1001"},
        "display_name": display_name,
    }
    goals = {"goals": [{"metric_key": "spend", "period_type": "month", "target": 1000}]}
    made = {}
    for name, method, path, body in (
        ("connection", "POST", "/connections", connection),
        ("goals", "PUT", "/goals", goals),
        ("qbr", "POST", "/results/prepare-qbr?as_of=2024-04-15", None),
        ("backfill", "POST", "/connections/backfill", {"days": 30}),
    ):
        response = http.request(method, f"/api/clients/{company}{path}", json=body)
        assert response.status_code < 300, response.text
        made[name] = response.json()
    backfill = http.get(f"/api/clients/{company}/connections/backfill").json()["backfill"]
    return {
        "connection": made["connection"]["connection"]["id"],
        "qbr": made["qbr"]["qbr"]["id"],
        "backfill": backfill["id"],
    }
