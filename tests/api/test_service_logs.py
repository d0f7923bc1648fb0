"""The request log of a real ``tally api`` process: one JSON line per request with its id, route template,
company, status and duration; errors with their request id; never a credential or a token; and the id of the
API call that asked for a backfill on the Dagster run that loads it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.auth import mint_token
from api.main import create_app
from orchestration.resources import TallyResource
from pipelines.emulator.accounts import emulator_credentials
from pipelines.registry import get_platform
from tally.run_tags import TAG_API_REQUEST
from tally.settings import Settings
from tests.api.service_server import ApiProcess, tally_api
from tests.orchestration.conftest import execute, tick
from warehouse.app_database import upgrade
from warehouse.vault import generate_key

MARK = f"SNTL{uuid.uuid4().hex[:16]}"
COMPANY = "acme"
ZERO_ID = "00000000-0000-0000-0000-000000000000"


def sentinel_credentials(platform: str) -> dict[str, Any]:
    """An emulated account's credentials with the sentinel in every secret field."""
    secret = {field.name for field in get_platform(platform).credential_fields() if field.secret}
    return {
        name: f"{MARK}-{platform}-{name}" if name in secret else value
        for name, value in emulator_credentials(platform).items()
    }


@pytest.fixture()
def service_settings(tmp_path: Path, emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A migrated SQLite app database, real keys, platforms at the emulator (the keys also in this process's
    environment, for the Dagster resource that reads the same app database)."""
    key = generate_key()
    monkeypatch.setenv("TALLY_ENCRYPTION_KEYS", key)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "tally",
        app_database_url=f"sqlite:///{tmp_path / 'app.db'}",
        jwt_secret=f"jwt-secret-{MARK}-{MARK}",
        encryption_keys=key,
        http_max_attempts=1,
        http_timeout_seconds=5,
    ).point_platforms_at(emulator_url)
    upgrade(settings.resolved_app_database_url)
    return settings


def request_lines(api: ApiProcess) -> dict[str, dict[str, Any]]:
    """The request log lines of the process, by request id."""
    lines = [json.loads(line) for line in api.log_lines() if line.startswith("{")]
    return {line["request_id"]: line for line in lines if line["message"] == "request"}


def app_routes(settings: Settings) -> set[tuple[str, str]]:
    """Every (method, template) the app routes, read from its route table (FastAPI nests included routers)."""
    return routing_table(create_app(settings).routes)


def routing_table(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """The (method, template) pairs of ``routes`` and of the routers they include."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, APIRoute):
            found |= {(method, route.path_format) for method in route.methods}
        elif hasattr(route, "original_router"):
            found |= routing_table(route.original_router.routes)
    return found


def every_route_calls() -> dict[tuple[str, str], dict[str, Any]]:
    """A call of each route (``path`` when not the template filled in), with the sentinel wherever a caller could
    put a credential."""
    company = f"/api/clients/{COMPANY}"
    return {
        ("GET", "/healthz"): {},
        ("GET", "/readyz"): {},
        ("GET", "/metrics"): {},
        ("GET", "/api/clients/platforms"): {},
        ("GET", "/api/clients/{companyId}/connections"): {},
        ("POST", "/api/clients/{companyId}/connections"): {
            "json": {"platform": "tiktok_ads", "credentials": sentinel_credentials("tiktok_ads")}
        },
        ("PATCH", "/api/clients/{companyId}/connections/{id}"): {"json": {"display_name": "Ads"}},
        ("DELETE", "/api/clients/{companyId}/connections/{id}"): {"path": f"{company}/connections/{ZERO_ID}"},
        ("POST", "/api/clients/{companyId}/connections/{id}/test"): {},
        ("POST", "/api/clients/{companyId}/connections/sync"): {},
        ("POST", "/api/clients/{companyId}/connections/backfill"): {"json": {"days": 30}},
        ("GET", "/api/clients/{companyId}/connections/backfill"): {},
        ("GET", "/api/clients/{companyId}/results"): {"params": {"period_type": "month", "period_end": "2024-03-31"}},
        ("GET", "/api/clients/{companyId}/results/campaigns"): {"params": {"sort_by": MARK}},
        ("GET", "/api/clients/{companyId}/results/campaigns/daily"): {"params": {"platform": "meta_ads"}},
        ("GET", "/api/clients/{companyId}/results/revisions"): {"params": {"since": "2024-03-01", "platform": MARK}},
        ("GET", "/api/clients/{companyId}/goals"): {},
        ("PUT", "/api/clients/{companyId}/goals"): {
            "json": {"goals": [{"metric_key": "spend", "period_type": "month", "target": 1000}]}
        },
        ("POST", "/api/clients/{companyId}/results/ask"): {"json": {"question": "How did spend move?"}},
        ("POST", "/api/clients/{companyId}/results/prepare-qbr"): {},
        ("GET", "/api/clients/{companyId}/qbrs"): {},
    }


def test_every_route_logs_one_json_line_with_its_request_id_and_never_a_credential_or_token(
    service_settings: Settings, tmp_path: Path
) -> None:
    token = mint_token(service_settings, "logger", ["clients:view", "clients:update"], [COMPANY], 600)
    headers = {"Authorization": f"Bearer {token}"}
    with (
        tally_api(service_settings, tmp_path / "api.log", ["--log-level", "debug"]) as api,
        httpx.Client(base_url=api.url, headers=headers, timeout=30) as http,
    ):
        created = http.post(
            f"/api/clients/{COMPANY}/connections",
            json={"platform": "meta_ads", "credentials": sentinel_credentials("meta_ads")},
        )
        assert created.status_code == 201, created.text
        calls = every_route_calls()
        assert set(calls) == app_routes(service_settings), "a route of the app has no call here"
        answers: dict[str, tuple[tuple[str, str], int]] = {}
        for (method, template), call in calls.items():
            path = call.get("path") or template.replace("{companyId}", COMPANY).replace(
                "{id}", created.json()["connection"]["id"]
            )
            sent_id = f"test-{len(answers)}"
            response = http.request(
                method, path, json=call.get("json"), params=call.get("params"), headers={"X-Request-ID": sent_id}
            )
            assert response.headers["X-Request-ID"] == sent_id
            answers[sent_id] = ((method, template), response.status_code)
        # Tokens and credentials that are wrong: they must not be logged either.
        bad = http.get(f"/api/clients/{COMPANY}/results", headers={"Authorization": f"Bearer {MARK}.{MARK}.{MARK}"})
        made_up = http.get("/healthz", headers={"X-Request-ID": f"{MARK} has spaces"})
        logged = request_lines(api)
        text = (tmp_path / "api.log").read_text()
    assert bad.status_code == 401
    assert made_up.headers["X-Request-ID"] != f"{MARK} has spaces", "an id that is not a plain token is replaced"
    for sent_id, ((method, template), status) in answers.items():
        line = logged[sent_id]
        assert (line["method"], line["route"], line["status"]) == (method, template, status)
        assert line["company_id"] == (COMPANY if "{companyId}" in template else None)
        assert line["duration_ms"] > 0 and line["time"].endswith("+00:00")
    assert logged[bad.headers["X-Request-ID"]]["status"] == 401
    assert MARK not in text
    assert token not in text and token.split(".")[2] not in text


def test_an_unexpected_error_is_logged_with_the_request_id_it_answered_with(
    service_settings: Settings, tmp_path: Path
) -> None:
    token = mint_token(service_settings, "logger", ["clients:view"], [COMPANY], 600)
    with tally_api(service_settings, tmp_path / "api.log") as api:
        engine = sa.create_engine(service_settings.resolved_app_database_url)
        with engine.begin() as db:
            db.execute(sa.text("drop table goals"))  # a broken app database: the route's query fails
        engine.dispose()
        response = httpx.get(
            f"{api.url}/api/clients/{COMPANY}/goals",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "broken-goals-1"},
        )
        lines = [json.loads(line) for line in api.log_lines() if line.startswith("{")]
    assert (response.status_code, response.json()) == (500, {"detail": "Internal server error"})
    assert response.headers["X-Request-ID"] == "broken-goals-1"
    [error] = [line for line in lines if line["message"] == "unhandled error"]
    assert (error["request_id"], error["error"], error["route"]) == (
        "broken-goals-1",
        "OperationalError",
        "/api/clients/{companyId}/goals",
    )
    [request] = [line for line in lines if line.get("request_id") == "broken-goals-1" and line["message"] == "request"]
    assert request["status"] == 500
    assert "no such table" not in "\n".join(api.log_lines()), "an error's message may quote anything"


def test_one_request_id_follows_a_backfill_from_the_api_call_to_its_dagster_run(
    service_settings: Settings, tmp_path: Path, emulator: httpx.Client
) -> None:
    token = mint_token(service_settings, "logger", ["clients:view", "clients:update"], [COMPANY], 600)
    headers = {"Authorization": f"Bearer {token}"}
    with (
        tally_api(service_settings, tmp_path / "api.log") as api,
        httpx.Client(base_url=api.url, headers=headers, timeout=30) as http,
    ):
        body = {"platform": "meta_ads", "credentials": emulator_credentials("meta_ads")}
        assert http.post(f"/api/clients/{COMPANY}/connections", json=body).status_code == 201
        asked = http.post(
            f"/api/clients/{COMPANY}/connections/backfill", json={"days": 30}, headers={"X-Request-ID": "trace-bf-1"}
        )
        assert asked.status_code == 202, asked.text
        logged = request_lines(api)["trace-bf-1"]
    assert (logged["route"], logged["status"]) == ("/api/clients/{companyId}/connections/backfill", 202)
    tally = TallyResource(
        data_dir=str(service_settings.data_dir),
        app_database_url=service_settings.resolved_app_database_url,
        platform_base_url=service_settings.platform_base_url,
    )
    with dg.instance_for_test() as instance:
        [run_request] = tick(instance, tally).run_requests
        assert run_request.tags[TAG_API_REQUEST] == "trace-bf-1"
        assert execute(instance, tally, run_request)
        [run] = instance.get_runs(filters=dg.RunsFilter(tags={TAG_API_REQUEST: "trace-bf-1"}))
    assert run.is_success and run.tags["tally/company_id"] == COMPANY
