"""The results answers a real ``tally api`` remembers: served only to a caller the route would let in, and never
after a change to what they are made of, whoever wrote it (here this process, standing in for a Dagster run)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import jwt
import pytest
import sqlalchemy as sa

from api.auth import mint_token
from pipelines.emulator.accounts import emulator_credentials
from tally.settings import Settings
from tests.api.service_server import DAY, one_day, process_settings, publish_marts, tally_api
from warehouse.app_database import upgrade
from warehouse.connections import record_sync
from warehouse.insights import NewInsight, insert_insight

PERIOD = {"period_type": "month", "period_end": "2024-03-31"}
RESULTS = "/api/clients/acme/results"


@pytest.fixture()
def service_settings(tmp_path: Path, emulator_url: str) -> Settings:
    settings = process_settings(tmp_path, http_max_attempts=1).point_platforms_at(emulator_url)
    upgrade(settings.resolved_app_database_url)
    publish_marts(settings, one_day("acme", 10))
    return settings


def test_a_remembered_answer_is_served_only_to_callers_the_route_lets_in(
    service_settings: Settings, tmp_path: Path
) -> None:
    viewer = mint_token(service_settings, "viewer", ["clients:view"], ["acme"], 600)
    other_company = mint_token(service_settings, "other", ["clients:view"], ["globex"], 600)
    no_view = mint_token(service_settings, "updater", ["clients:update"], ["acme"], 600)
    secret = service_settings.jwt_secret.get_secret_value() if service_settings.jwt_secret else ""
    expired = jwt.encode(
        {"sub": "late", "permissions": ["clients:view"], "companies": ["acme"], "exp": 1}, secret, algorithm="HS256"
    )
    with tally_api(service_settings, tmp_path / "api.log") as api:

        def get(token: str, body: bytes | None = None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            return httpx.request("GET", f"{api.url}{RESULTS}", params=PERIOD, headers=headers, content=body, timeout=30)

        first, again = get(viewer), get(viewer)
        answers = {
            "other company": get(other_company),
            "no view": get(no_view),
            "expired": get(expired),
            "unsigned": get(viewer.rsplit(".", 1)[0] + ".x"),
            "no token": httpx.get(f"{api.url}{RESULTS}", params=PERIOD),
            "with a body": get(viewer, b'{"a": 1, "a": 2}'),
        }
        cache = httpx.get(f"{api.url}/metrics").text
    assert first.status_code == 200 and again.content == first.content
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "other company": 404,
        "no view": 403,
        "expired": 401,
        "unsigned": 401,
        "no token": 401,
        "with a body": 400,
    }
    assert 'tally_answer_cache_lookups_total{cache="results_answers",result="hit"} 1.0' in cache


def test_a_new_insight_and_a_load_written_by_another_process_are_seen_at_once(
    service_settings: Settings, tmp_path: Path
) -> None:
    token = mint_token(service_settings, "viewer", ["clients:view", "clients:update"], ["acme"], 600)
    headers = {"Authorization": f"Bearer {token}"}
    engine = sa.create_engine(service_settings.resolved_app_database_url)
    with (
        tally_api(service_settings, tmp_path / "api.log") as api,
        httpx.Client(base_url=api.url, headers=headers, timeout=30) as http,
    ):
        body = {"platform": "meta_ads", "credentials": emulator_credentials("meta_ads")}
        connection = http.post("/api/clients/acme/connections", json=body).json()["connection"]
        before = [http.get(RESULTS, params=PERIOD).json() for _ in range(2)]
        with engine.begin() as db:
            record_sync(db, connection["id"], None, loaded_through=DAY)
        loaded = http.get(RESULTS, params=PERIOD).json()
        with engine.begin() as db:
            insert_insight(
                db,
                NewInsight("acme", "month", date(2024, 3, 1), date(2024, 3, 31), "Spend rose.", "template", None, {}),
            )
        noted = http.get(RESULTS, params=PERIOD).json()
    engine.dispose()
    assert before[0] == before[1] and before[0]["data_through"] is None and before[0]["insight"] is None
    assert loaded["data_through"] == DAY.isoformat()
    assert noted["insight"]["text"] == "Spend rose."
