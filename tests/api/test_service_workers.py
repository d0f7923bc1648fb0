"""``tally api --workers 2`` serves one set of data: a publish, a goal change and a new connection are seen by
every worker on its next request, checked over HTTP against the real process (each request on a new connection,
so the workers share them, and each answer's worker read from the request log)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import mint_token
from pipelines.emulator.accounts import emulator_credentials
from tally.settings import Settings
from tests.api.service_server import ApiProcess, one_day, process_settings, publish_marts, request_line, tally_api
from warehouse.app_database import upgrade

WORKERS = 2
PERIOD = {"period_type": "month", "period_end": "2024-03-31"}
request_ids = (f"workers-{n}" for n in itertools.count())


@pytest.fixture()
def service_settings(tmp_path: Path, emulator_url: str) -> Settings:
    settings = process_settings(tmp_path, http_max_attempts=1).point_platforms_at(emulator_url)
    upgrade(settings.resolved_app_database_url)
    return settings


def from_every_worker(api: ApiProcess, ask: Callable[[dict[str, str]], httpx.Response]) -> list[httpx.Response]:
    """Ask on new connections until every worker has answered at least once; every answer, in order."""
    answers: list[httpx.Response] = []
    workers: set[int] = set()
    while len(workers) < WORKERS:
        assert len(answers) < 200, f"only workers {workers} answered"
        request_id = next(request_ids)
        answers.append(ask({"X-Request-ID": request_id}))
        workers.add(request_line(api, request_id)["pid"])
    return answers


def spend(response: httpx.Response) -> dict[str, Any]:
    """The spend metric of a /results answer."""
    assert response.status_code == 200, response.text
    [metric] = [metric for metric in response.json()["metrics"] if metric["metric_key"] == "spend"]
    return metric


def test_a_publish_a_goal_change_and_a_new_connection_are_seen_by_every_worker_on_its_next_request(
    service_settings: Settings, tmp_path: Path
) -> None:
    publish_marts(service_settings, one_day("acme", 10))
    token = mint_token(service_settings, "workers", ["clients:view", "clients:update"], ["acme"], 600)
    auth = {"Authorization": f"Bearer {token}"}

    def results(headers: dict[str, str]) -> httpx.Response:
        return httpx.get(f"{api.url}/api/clients/acme/results", params=PERIOD, headers=auth | headers, timeout=30)

    with tally_api(service_settings, tmp_path / "api.log", ["--workers", str(WORKERS)]) as api:
        # Each worker answers (and remembers) the first publish.
        assert {spend(answer)["value"] for answer in from_every_worker(api, results)} == {10.0}

        publish_marts(service_settings, one_day("acme", 25))
        assert {spend(answer)["value"] for answer in from_every_worker(api, results)} == {25.0}

        goals = {"goals": [{"metric_key": "spend", "period_type": "month", "target": 100}]}
        assert httpx.put(f"{api.url}/api/clients/acme/goals", json=goals, headers=auth).status_code == 200
        assert {spend(answer)["target"] for answer in from_every_worker(api, results)} == {100.0}

        body = {"platform": "meta_ads", "credentials": emulator_credentials("meta_ads")}
        created = httpx.post(f"{api.url}/api/clients/acme/connections", json=body, headers=auth, timeout=30)
        assert created.status_code == 201, created.text
        answers = from_every_worker(api, results)
    assert {tuple(answer.json()["connected_platforms"]) for answer in answers} == {("meta_ads",)}
