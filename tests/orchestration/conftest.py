"""Dagster in-process against the emulator: a test instance, the Tally resource, and a runner of run requests.

``execute`` runs the job a sensor's run request names, in this process, with the request's config and tags
(Dagster's public ``execute_in_process``): what these tests check is the sensor's hand-over and the jobs' work,
not the daemon's launching, which tests/e2e/test_daemon_backfill.py and tests/hardening/test_killed_request.py
check with a real daemon. The assets, the sensor, the jobs and the warehouse are the real ones; the expected rows
come from the emulator over HTTP.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import jwt
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from api.main import create_app
from orchestration.definitions import defs
from orchestration.resources import TallyResource
from orchestration.sensors import run_requests_sensor
from pipelines.emulator import synthetic
from pipelines.emulator.accounts import emulator_credentials
from pipelines.registry import get_platform
from tally.background_server import serve_in_thread
from tally.settings import Settings
from warehouse import connections as store
from warehouse.app_database import upgrade
from warehouse.vault import CredentialVault, generate_key


@pytest.fixture()
def tally(tmp_path: Path, emulator: Any, emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> TallyResource:
    """The Tally resource on a fresh app database and warehouse, platforms at a reset emulator, quick retries."""
    monkeypatch.setenv("TALLY_ENCRYPTION_KEYS", generate_key())
    for name, value in {
        "HTTP_BACKOFF_FACTOR": "0.01",
        "HTTP_MAX_RETRY_DELAY_SECONDS": "1",
        "HTTP_MAX_ATTEMPTS": "3",
        "HTTP_TIMEOUT_SECONDS": "5",
    }.items():
        monkeypatch.setenv(f"TALLY_{name}", value)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    return TallyResource(data_dir=str(tmp_path / "tally"), app_database_url=url, platform_base_url=emulator_url)


@pytest.fixture()
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


PRODUCT_JWT_SECRET = "orchestration-product-test-secret-0123456789"
PRODUCT_COMPANY = "acme"


@pytest.fixture()
def product(tally: TallyResource, emulator_url: str) -> Iterator[httpx.Client]:
    """The API on loopback over the run's own app database and keys, with a token for PRODUCT_COMPANY."""
    settings = Settings(
        _env_file=None,
        data_dir=tally.settings.data_dir,
        app_database_url=tally.settings.resolved_app_database_url,
        encryption_keys=SecretStr(os.environ["TALLY_ENCRYPTION_KEYS"]),
        jwt_secret=SecretStr(PRODUCT_JWT_SECRET),
        http_backoff_factor=0.01,
        http_timeout_seconds=5,
    ).point_platforms_at(emulator_url)
    claims = {
        "sub": "product",
        "permissions": ["clients:view", "clients:update"],
        "companies": [PRODUCT_COMPANY],
        "exp": datetime.now(UTC) + timedelta(hours=1),
    }
    headers = {"Authorization": f"Bearer {jwt.encode(claims, PRODUCT_JWT_SECRET, algorithm='HS256')}"}
    with serve_in_thread(create_app(settings)) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        yield http


Connect = Callable[..., dict[str, Any]]


def store_emulated_connection(
    db: sa.Connection, vault: CredentialVault, company_id: str, platform: str, seed: int = 1, **overrides: str
) -> dict[str, Any]:
    """Store an active connection of a company to an emulated account, as the API would; returns its row."""
    spec = get_platform(platform)
    credentials = spec.credentials_model.model_validate({**emulator_credentials(platform, seed), **overrides})
    account = synthetic.account(platform, credentials.account_id())
    store.insert_connection(
        db,
        store.NewConnection(
            company_id=company_id,
            platform=platform,
            source="manual",
            connected_by_user_id="test",
            account_id=credentials.account_id(),
            display_name=None,
            store_url=None,
            currency=account.currency,
            timezone=account.timezone,
            scopes=[],
            token_expires_at=None,
            credentials_encrypted=vault.encrypt(credentials.plain()),
        ),
    )
    return store.connected_connection(db, company_id, platform)


@pytest.fixture()
def connect(tally: TallyResource) -> Connect:
    """Store an active connection of a company to an emulated account, as the API would."""

    def make(company_id: str, platform: str, seed: int = 1, **overrides: str) -> dict[str, Any]:
        with tally.app_engine().begin() as db:
            vault = CredentialVault.from_settings(tally.settings)
            return store_emulated_connection(db, vault, company_id, platform, seed, **overrides)

    return make


def tick(instance: dg.DagsterInstance, tally: TallyResource) -> dg.SensorResult:
    """One evaluation of the run_requests sensor."""
    context = dg.build_sensor_context(instance=instance, definitions=defs, resources={"tally": tally})
    return run_requests_sensor(context)


def execute(instance: dg.DagsterInstance, tally: TallyResource, request: dg.RunRequest) -> bool:
    """Run the job a run request names with its config, tags and partition; returns whether the run succeeded."""
    job = defs.resolve_job_def(request.job_name)
    result = job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        resources={"tally": tally},
        tags=request.tags,
        partition_key=request.partition_key,
        raise_on_error=False,
    )
    return result.success


def create_run(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.DagsterRun:
    """The run a run request names, created on the instance as the daemon would queue it, and not executed."""
    job = defs.resolve_job_def(request.job_name)
    return instance.create_run_for_job(job, run_config=request.run_config, tags=request.tags)


def run_pending(instance: dg.DagsterInstance, tally: TallyResource) -> list[bool]:
    """Tick, run every run the tick asked for, and tick again to settle what the runs left; the runs' outcomes."""
    outcomes = [execute(instance, tally, request) for request in tick(instance, tally).run_requests or []]
    follow_up = tick(instance, tally).run_requests or []
    return outcomes + [execute(instance, tally, request) for request in follow_up]


def served_meta_insights(emulator_url: str, account_id: str, start: date, end: date) -> list[dict[str, Any]]:
    """Every daily campaign insights row Meta's emulator serves for the account's days, read over HTTP page by page."""
    params = {
        "level": "campaign",
        "time_increment": "1",
        "time_range": json.dumps({"since": start.isoformat(), "until": end.isoformat()}),
        "fields": "campaign_id,spend,impressions,clicks",
        "access_token": "oracle-token",
        "limit": "500",
    }
    rows: list[dict[str, Any]] = []
    url: httpx.URL | None = httpx.URL(f"{emulator_url}/v23.0/act_{account_id}/insights", params=params)
    with httpx.Client(timeout=30) as client:
        while url:
            page = client.get(url).raise_for_status().json()
            rows.extend(page["data"])
            following = page.get("paging", {}).get("next")
            url = httpx.URL(following).copy_merge_params({"access_token": "oracle-token"}) if following else None
    return rows


def served_meta_spend(emulator_url: str, account_id: str, start: date, end: date) -> Decimal:
    """The account's spend over the days, added up from what the emulator serves."""
    return sum((Decimal(row["spend"]) for row in served_meta_insights(emulator_url, account_id, start, end)), Decimal())


def warehouse_rows(settings: Settings, schema: str, table: str) -> list[tuple[Any, ...]]:
    """Every row of a warehouse table without dlt's load bookkeeping, sorted, for exact comparison."""
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
        columns = [
            name
            for (name,) in db.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "and column_name not in ('_dlt_load_id', '_dlt_id') order by column_name",
                [schema, table],
            ).fetchall()
        ]
        if not columns:
            return []
        listed = ", ".join(f'"{name}"' for name in columns)
        return db.execute(f'select {listed} from {schema}."{table}" order by all').fetchall()


def outbox(tally: TallyResource) -> list[dict[str, Any]]:
    """Every request with its progress per step, oldest first."""
    from warehouse.app_tables import run_requests
    from warehouse.run_requests import request_progress

    with tally.app_engine().connect() as db:
        rows = [dict(r._mapping) for r in db.execute(sa.select(run_requests).order_by(run_requests.c.created_at))]
        return [{**row, "progress": request_progress(db, row["id"])} for row in rows]
