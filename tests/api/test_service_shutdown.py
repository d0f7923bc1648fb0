"""SIGTERM to a real ``tally api`` during a burst of requests: requests in flight are finished, new ones are
refused, none is cut off.

A request counts as refused when the client could not connect, or when its connection was dropped and the
server's log has no line for it (a connection still in the listen queue when the listener closed: the app never
saw it). A request the server started always leaves a log line, even when cut off. One request is certainly in
flight when the signal comes: a goals update whose body the client is still sending, slowly.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.auth import mint_token
from tests.api.service_server import one_day, process_settings, publish_marts, tally_api
from warehouse.app_database import upgrade

CLIENTS = 12
# A year of daily spend with nothing remembered: each request does its rollup, so several are in flight at once.
PARAMS = {"period_type": "year", "period_end": "2024-12-31"}


@dataclass(frozen=True)
class Outcome:
    request_id: str
    sent: float
    ended: float
    status: int | None
    error: str | None


def burst(url: str, token: str, client: int, stop: threading.Event, outcomes: list[Outcome]) -> None:
    """Send requests one after another, each on a new connection, until ``stop`` is set; record each outcome."""
    for n in range(10_000):
        if stop.is_set():
            return
        request_id = f"burst-{client}-{n}"
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
        sent = time.monotonic()
        try:
            with httpx.Client(timeout=30) as http:
                response = http.get(f"{url}/api/clients/acme/results/campaigns/daily", params=PARAMS, headers=headers)
            outcomes.append(Outcome(request_id, sent, time.monotonic(), response.status_code, None))
        except httpx.TransportError as exc:
            outcomes.append(Outcome(request_id, sent, time.monotonic(), None, type(exc).__name__))
            time.sleep(0.05)


GOALS = [{"metric_key": "spend", "period_type": "month", "target": 1234.0}]
SLOW_CHUNKS = 8
CHUNK_SECONDS = 0.25


def slow_body() -> Iterator[bytes]:
    """A goals body sent a few bytes at a time over two seconds."""
    body = json.dumps({"goals": GOALS}).encode()
    size = len(body) // SLOW_CHUNKS + 1
    for start in range(0, len(body), size):
        yield body[start : start + size]
        time.sleep(CHUNK_SECONDS)


def slow_update(url: str, token: str, answers: list[httpx.Response]) -> None:
    """PUT the goals with the slow body; keep the answer."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "X-Request-ID": "slow-put"}
    answers.append(httpx.put(f"{url}/api/clients/acme/goals", content=slow_body(), headers=headers, timeout=30))


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_during_a_burst_finishes_requests_in_flight_and_refuses_new_ones(tmp_path: Path, workers: int) -> None:
    settings = process_settings(tmp_path, rollup_cache_cells=0)
    upgrade(settings.resolved_app_database_url)
    publish_marts(settings, one_day("acme", 10))
    token = mint_token(settings, "shutdown", ["clients:view", "clients:update"], ["acme"], 600)
    outcomes: list[Outcome] = []
    slow_answers: list[httpx.Response] = []
    stop = threading.Event()
    with tally_api(settings, tmp_path / "api.log", ["--workers", str(workers)]) as api:
        threads = [
            threading.Thread(target=burst, args=(api.url, token, n, stop, outcomes), daemon=True)
            for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        slow = threading.Thread(target=slow_update, args=(api.url, token, slow_answers), daemon=True)
        slow.start()
        time.sleep(3 * CHUNK_SECONDS)
        answered_before = len(outcomes)
        sigterm_at = time.monotonic()
        os.kill(api.process.pid, signal.SIGTERM)
        slow.join(timeout=30)
        exit_code = api.process.wait(timeout=60)
        time.sleep(0.5)  # requests sent after the exit, refused
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        logged = {
            entry["request_id"]: entry
            for entry in map(json.loads, filter(None, api.log_lines()))
            if entry.get("message") == "request"
        }
    # uvicorn shuts down, then re-raises the signal it caught so the exit status says what stopped it.
    assert exit_code in (0, -signal.SIGTERM)
    assert "Application shutdown complete." in "\n".join(api.log_lines())
    assert answered_before > 0
    failed = [outcome for outcome in outcomes if outcome.status != 200]
    cut_off = [outcome for outcome in failed if outcome.error is None or outcome.request_id in logged]
    assert cut_off == [], f"requests the server started and did not answer 200: {cut_off}"
    assert all(logged[outcome.request_id]["status"] == 200 for outcome in outcomes if outcome.status == 200)
    assert [o for o in failed if o.sent > sigterm_at], "requests after the SIGTERM were refused"
    [slow_answer] = slow_answers
    assert slow_answer.status_code == 200, slow_answer.text
    assert [{key: goal[key] for key in GOALS[0]} for goal in slow_answer.json()["goals"]] == GOALS
    assert logged["slow-put"]["status"] == 200
