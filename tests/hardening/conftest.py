"""The whole of Tally on loopback for hardening tests: the API, the emulator, a Dagster instance and a warehouse.

``Stack`` is one company's world: the API served by uvicorn with a client that keeps every response it received,
the Tally resource the runs use (same settings, same app database, same data dir), a test Dagster instance, and
the helpers to turn the API's outbox into runs the way the sensor and the backfill daemon do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import jwt
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from api.main import create_app
from orchestration.resources import TallyResource
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.api.conftest import JWT_SECRET
from tests.databases import temporary_postgres_database
from tests.fake_openai import MODEL, FakeOpenAI, serve_fake_openai
from tests.orchestration.conftest import run_pending
from tests.pipelines.conftest import dlt_debug_logs  # noqa: F401  (a fixture, used by the secrets test)
from warehouse import run_requests as outbox
from warehouse.app_database import create_app_engine, upgrade
from warehouse.vault import generate_key

COMPANY = "acme"
OTHER_COMPANY = "globex"
OPENAI_KEY = "sk-hardening-openai-key"
# Quick retries so that faults play out in seconds: 3 attempts, short backoff, a 2 s timeout per request.
QUICK_HTTP = {
    "http_backoff_factor": 0.01,
    "http_max_retry_delay_seconds": 1,
    "http_max_attempts": 3,
    "http_timeout_seconds": 2,
}


@dataclass
class Stack:
    """The API, the runs and the storage of one test, wired to the same settings."""

    settings: Settings
    tally: TallyResource
    instance: dg.DagsterInstance
    api: httpx.Client
    app_engine: sa.Engine
    fake_openai: FakeOpenAI
    responses: list[str] = field(default_factory=list)

    def run_pending(self) -> dict[str, bool]:
        """Hand what the outbox holds to its runs and run them to the end, as the sensor and the daemon would;
        returns, per platform of those requests, whether its load succeeded (skipped platforms are left out)."""
        with self.app_engine.connect() as db:
            pending = [request["id"] for request in outbox.pending_requests(db)]
        run_pending(self.instance, self.tally)
        outcomes = {}
        with self.app_engine.connect() as db:
            for request_id in pending:
                for step, entry in outbox.request_progress(db, request_id).items():
                    if step != "marts" and entry["status"] != "skipped":
                        outcomes[step] = entry["status"] == "succeeded"
        return outcomes


def stack_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The environment a run reads its settings from (Dagster resources build ``Settings()`` inside the run)."""
    assert settings.encryption_keys is not None
    monkeypatch.setenv("TALLY_ENCRYPTION_KEYS", settings.encryption_keys.get_secret_value())
    for name, value in QUICK_HTTP.items():
        monkeypatch.setenv(f"TALLY_{name.upper()}", str(value))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A fresh app database and warehouse: SQLite and DuckDB files, or two PostgreSQL databases."""
    if request.param == "duckdb":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        upgrade(url)
        yield {"app_database_url": url, "warehouse_url": None}
        return
    with (
        temporary_postgres_database("tally_hardening_app") as app_url,
        temporary_postgres_database("tally_hardening_wh") as warehouse_url,
    ):
        upgrade(app_url)
        yield {"app_database_url": app_url, "warehouse_url": warehouse_url}


@pytest.fixture()
def stack(
    tmp_path: Path, storage: dict[str, Any], emulator: httpx.Client, emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    """The API (with the fake OpenAI model), the Tally resource and a Dagster instance on the same storage."""
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "tally",
        encryption_keys=SecretStr(generate_key()),
        jwt_secret=SecretStr(JWT_SECRET),
        openai_api_key=SecretStr(OPENAI_KEY),
        llm_model=MODEL,
        llm_timeout_seconds=5,
        llm_max_retries=0,
        **storage,
        **QUICK_HTTP,
    ).point_platforms_at(emulator_url)
    stack_environment(monkeypatch, settings)
    tally = TallyResource(
        data_dir=str(settings.data_dir),
        app_database_url=storage["app_database_url"],
        warehouse_url=storage["warehouse_url"],
        platform_base_url=emulator_url,
    )
    with ExitStack() as resources:
        fake = resources.enter_context(serve_fake_openai())
        settings = settings.model_copy(update={"openai_base_url": fake.url})
        engine = create_app_engine(settings.resolved_app_database_url)
        resources.callback(engine.dispose)
        resources.callback(lambda: tally.app_engine().dispose())
        instance = resources.enter_context(dg.instance_for_test())
        url = resources.enter_context(serve_in_thread(create_app(settings, engine=engine)))
        responses: list[str] = []
        headers = {"Authorization": f"Bearer {bearer_token([COMPANY, OTHER_COMPANY])}"}
        api = resources.enter_context(
            httpx.Client(base_url=url, headers=headers, timeout=60, event_hooks={"response": [keep_body(responses)]})
        )
        yield Stack(settings, tally, instance, api, engine, fake, responses)


def bearer_token(companies: list[str]) -> str:
    """A token with both permissions on these companies, valid for an hour."""
    claims = {
        "sub": "hardening",
        "permissions": ["clients:view", "clients:update"],
        "companies": companies,
        "exp": datetime.now(UTC) + timedelta(hours=1),
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def keep_body(responses: list[str]) -> Callable[[httpx.Response], None]:
    """A response hook that keeps every body (and the headers) the API sent."""

    def keep(response: httpx.Response) -> None:
        response.read()
        responses.append(f"{response.headers}\n{response.text}")

    return keep
