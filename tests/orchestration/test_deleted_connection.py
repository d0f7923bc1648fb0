"""A run's outcome touches only the connection it loaded, and only while that connection is still connected.

The product calls the API over loopback HTTP; the backfill it asks for runs in-process (the real sensor, job,
assets and DuckDB warehouse) against the emulator, whose delay fault keeps the load busy while the product
disconnects (and reconnects) the platform under it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import dagster as dg
import httpx
import pytest

from orchestration.resources import TallyResource
from pipelines.emulator.accounts import emulator_credentials
from tests.orchestration.conftest import PRODUCT_COMPANY, execute, tick

COMPANY = PRODUCT_COMPANY
CONNECTIONS = f"/api/clients/{COMPANY}/connections"
LOADED_ACCOUNT = emulator_credentials("meta_ads", 1)["ad_account_id"]


def connect_meta(product: httpx.Client, seed: int) -> dict[str, Any]:
    """POST a Meta connection to the emulated account of ``seed``; the connection the API answered with."""
    body = {"platform": "meta_ads", "credentials": emulator_credentials("meta_ads", seed)}
    response = product.post(CONNECTIONS, json=body)
    assert response.status_code == 201, response.text
    return response.json()["connection"]


def listed(product: httpx.Client) -> dict[str, dict[str, Any]]:
    """The company's connections by id, as GET /connections lists them."""
    response = product.get(CONNECTIONS)
    assert response.status_code == 200, response.text
    return {connection["id"]: connection for connection in response.json()["connections"]}


def slow_down(emulator: httpx.Client, **plan: Any) -> None:
    emulator.put(f"/_emulator/faults/meta_ads/{LOADED_ACCOUNT}", json=plan).raise_for_status()


def requests_served(emulator: httpx.Client) -> int:
    return emulator.get(f"/_emulator/requests/meta_ads/{LOADED_ACCOUNT}").json()["requests"]


def load_while(
    instance: dg.DagsterInstance,
    tally: TallyResource,
    product: httpx.Client,
    emulator: httpx.Client,
    meanwhile: Callable[[], None],
) -> bool:
    """Ask for a backfill over HTTP and run it; once the run has loaded its connection and is fetching (the
    emulator has begun answering it, slowly), ``meanwhile`` runs beside it. Returns whether the run succeeded."""
    assert product.post(f"{CONNECTIONS}/backfill", json={"days": 30}).status_code == 202
    [run_request] = tick(instance, tally).run_requests
    before = requests_served(emulator)
    slow_down(emulator, delay_seconds=0.5)
    failures: list[BaseException] = []

    def beside_the_run() -> None:
        try:
            deadline = time.monotonic() + 60
            while requests_served(emulator) == before:
                assert time.monotonic() < deadline, "the run never called the platform"
                time.sleep(0.05)
            meanwhile()
        except BaseException as exc:  # handed to the test's thread below
            failures.append(exc)
            slow_down(emulator)

    thread = threading.Thread(target=beside_the_run)
    thread.start()
    succeeded = execute(instance, tally, run_request)
    thread.join()
    if failures:
        raise failures[0]
    return succeeded


def end_the_run(emulator: httpx.Client, outcome: str) -> None:
    """Let the slow run finish: quickly, or with its token revoked from the next request on (an auth failure)."""
    if outcome == "auth_failure":
        slow_down(emulator, revoke_after=0)
    else:
        slow_down(emulator)


@pytest.mark.parametrize("outcome", ["success", "auth_failure"])
def test_connection_deleted_while_its_load_runs_stays_deleted(
    instance: dg.DagsterInstance, tally: TallyResource, product: httpx.Client, emulator: httpx.Client, outcome: str
) -> None:
    loaded = connect_meta(product, seed=1)

    def disconnect() -> None:
        assert product.delete(f"{CONNECTIONS}/{loaded['id']}").status_code == 200
        end_the_run(emulator, outcome)

    succeeded = load_while(instance, tally, product, emulator, disconnect)

    assert succeeded is (outcome == "success")
    after = listed(product)[loaded["id"]]
    assert after["status"] == "disconnected"
    assert after["last_synced_at"] is None and after["last_sync_error"] is None
    slow_down(emulator)
    again = connect_meta(product, seed=1)
    assert again["id"] != loaded["id"] and again["status"] == "active"


@pytest.mark.parametrize("outcome", ["success", "auth_failure"])
def test_reconnected_platform_keeps_its_state_whatever_the_old_run_ends_with(
    instance: dg.DagsterInstance, tally: TallyResource, product: httpx.Client, emulator: httpx.Client, outcome: str
) -> None:
    loaded = connect_meta(product, seed=1)
    made: dict[str, dict[str, Any]] = {}

    def reconnect() -> None:
        assert product.delete(f"{CONNECTIONS}/{loaded['id']}").status_code == 200
        made["new"] = connect_meta(product, seed=2)
        end_the_run(emulator, outcome)

    succeeded = load_while(instance, tally, product, emulator, reconnect)

    assert succeeded is (outcome == "success")
    connections = listed(product)
    new = connections[made["new"]["id"]]
    assert new["status"] == "active"
    assert new["last_synced_at"] is None and new["last_sync_error"] is None
    assert new["updated_at"] == made["new"]["updated_at"]
    old = connections[loaded["id"]]
    assert old["status"] == "disconnected" and old["last_synced_at"] is None and old["last_sync_error"] is None
    assert [c["id"] for c in connections.values() if c["status"] != "disconnected"] == [new["id"]]
