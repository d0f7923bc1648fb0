"""Slow platforms do not starve the API: connection tests and new connections hold no app-database connection
while the platform takes its time, so the rest of the API keeps answering.

The API runs on loopback (uvicorn) over an app database whose pool holds two connections and waits at most a
second for one; the emulator answers Meta slowly, and more connection calls than the pool holds wait on it at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.api.conftest import TokenMaker

POOL_SIZE = 2
SLOW_CALLS = 2 * POOL_SIZE
PLATFORM_DELAY_SECONDS = 3.0
ACCOUNT = "4242"
COMPANIES = [f"slow{number}" for number in range(SLOW_CALLS)]
MARCH_2024 = {"period_type": "month", "period_end": "2024-03-31"}


@pytest.fixture()
def small_pool(api_settings: Settings) -> Iterator[sa.Engine]:
    """The API's app database behind a pool of POOL_SIZE connections that waits at most a second for one."""
    url = api_settings.resolved_app_database_url
    engine = sa.create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=0,
        pool_timeout=1,
        connect_args={"check_same_thread": False, "timeout": 30} if url.startswith("sqlite") else {},
    )
    yield engine
    engine.dispose()


@pytest.fixture()
def api(
    api_settings: Settings, small_pool: sa.Engine, published_marts: Path, make_token: TokenMaker
) -> Iterator[httpx.Client]:
    """The API on loopback over the small pool, and a client whose token reaches every slow company."""
    app = create_app(api_settings.model_copy(update={"data_dir": published_marts}), engine=small_pool)
    headers = {"Authorization": f"Bearer {make_token(companies=['*'])}"}
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        yield http


def meta(company: str) -> dict[str, object]:
    return {"platform": "meta_ads", "credentials": {"access_token": f"token-{company}", "ad_account_id": ACCOUNT}}


def slow_meta(emulator: httpx.Client) -> None:
    plan = {"delay_seconds": PLATFORM_DELAY_SECONDS}
    emulator.put(f"/_emulator/faults/meta_ads/{ACCOUNT}", json=plan).raise_for_status()


def platform_requests(emulator: httpx.Client) -> int:
    return emulator.get(f"/_emulator/requests/meta_ads/{ACCOUNT}").json()["requests"]


def connect_each(api: httpx.Client) -> dict[str, str]:
    """A Meta connection of every slow company (made while Meta is still quick); their ids by company."""
    made = {}
    for company in COMPANIES:
        response = api.post(f"/api/clients/{company}/connections", json=meta(company))
        assert response.status_code == 201, response.text
        made[company] = response.json()["connection"]["id"]
    return made


def slow_call(api: httpx.Client, route: str, company: str, connection_ids: dict[str, str]) -> httpx.Response:
    if route == "test":
        return api.post(f"/api/clients/{company}/connections/{connection_ids[company]}/test")
    return api.post(f"/api/clients/{company}/connections", json=meta(company))


@pytest.mark.parametrize("route", ["test", "create"])
def test_other_routes_answer_while_more_slow_platform_calls_than_the_pool_holds_wait(
    api: httpx.Client, emulator: httpx.Client, route: str
) -> None:
    connection_ids = connect_each(api) if route == "test" else {}
    before = platform_requests(emulator)
    slow_meta(emulator)
    with ThreadPoolExecutor(max_workers=SLOW_CALLS) as pool:
        started = time.monotonic()
        waiting = [pool.submit(slow_call, api, route, company, connection_ids) for company in COMPANIES]
        # At least a poolful of calls is waiting on the platform (the rest may still be reaching it).
        while platform_requests(emulator) < before + SLOW_CALLS and time.monotonic() - started < 1:
            time.sleep(0.02)
        assert platform_requests(emulator) >= before + POOL_SIZE, "the slow calls never reached the platform"

        # Every slow call is now waiting on the platform; the rest of the API must not wait on them.
        for path, params in (("/connections", None), ("/results", MARCH_2024), ("/goals", None)):
            asked = time.monotonic()
            response = api.get(f"/api/clients/{COMPANIES[0]}{path}", params=params)
            assert response.status_code == 200, (path, response.status_code, response.text)
            assert time.monotonic() - asked < PLATFORM_DELAY_SECONDS / 2, path
        assert not any(call.done() for call in waiting), "the platform answered before the other routes were tried"

        answers = [call.result() for call in waiting]
    expected = 200 if route == "test" else 201
    assert [answer.status_code for answer in answers] == [expected] * SLOW_CALLS, [a.text for a in answers]
    if route == "test":
        assert all(answer.json()["success"] for answer in answers)
