"""``/healthz`` and ``/readyz`` of a real ``tally api`` process: no token needed, nothing of a company shown, and
503 naming the dependency that is not ready until it is."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.api.service_server import one_day, process_settings, publish_marts, tally_api
from tests.databases import temporary_postgres_database
from tests.results_data import build
from warehouse.app_database import upgrade


def test_healthz_and_readyz_answer_without_a_token_and_name_no_company(tmp_path: Path) -> None:
    settings = process_settings(tmp_path)
    upgrade(settings.resolved_app_database_url)
    publish_marts(settings, one_day("acme-secret-co", 10))
    with tally_api(settings, tmp_path / "api.log") as api:
        health = httpx.get(f"{api.url}/healthz")
        ready = httpx.get(f"{api.url}/readyz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready_body = {"status": "ready", "checks": {"app_database": "ok", "marts": "ok"}}
    assert (ready.status_code, ready.json()) == (200, ready_body)
    assert "acme-secret-co" not in health.text + ready.text


def test_readyz_is_503_naming_the_app_database_until_it_is_migrated(tmp_path: Path) -> None:
    settings = process_settings(tmp_path)
    with tally_api(settings, tmp_path / "api.log", wait_path="/healthz") as api:
        before = httpx.get(f"{api.url}/readyz")
        upgrade(settings.resolved_app_database_url)
        after = httpx.get(f"{api.url}/readyz")
    assert before.status_code == 503
    assert before.json()["detail"] == "Not ready: app_database"
    assert before.json()["checks"]["marts"] == "ok"
    assert "no migrations applied" in before.json()["checks"]["app_database"]
    assert (after.status_code, after.json()["status"]) == (200, "ready")


@pytest.mark.postgres
def test_readyz_is_503_naming_the_marts_until_the_postgres_mart_tables_exist(tmp_path: Path) -> None:
    with temporary_postgres_database("tally_ready") as warehouse_url:
        settings = process_settings(tmp_path, warehouse_url=warehouse_url)
        upgrade(settings.resolved_app_database_url)
        with tally_api(settings, tmp_path / "api.log", wait_path="/healthz") as api:
            before = httpx.get(f"{api.url}/readyz")
            engine = sa.create_engine(warehouse_url)
            with engine.begin() as warehouse:
                build(warehouse, one_day("acme", 10))
            engine.dispose()
            after = httpx.get(f"{api.url}/readyz")
    assert before.status_code == 503
    assert before.json()["detail"] == "Not ready: marts"
    assert before.json()["checks"]["app_database"] == "ok"
    assert "password" not in before.text and "postgres" not in before.json()["checks"]["marts"].lower()
    assert (after.status_code, after.json()["checks"]) == (200, {"app_database": "ok", "marts": "ok"})
