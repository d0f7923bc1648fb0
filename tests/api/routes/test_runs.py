"""Sync and backfill requests: written to the outbox, answered 202, one backfill at a time per company."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from tests.api.conftest import COMPANY
from warehouse.app_tables import run_requests

BASE = f"/api/clients/{COMPANY}/connections"


def connect(client: httpx.Client, platform: str = "meta_ads") -> None:
    credentials = {
        "meta_ads": {"access_token": "tok", "ad_account_id": "5005"},
        "shopify": {"store_url": "runs-shop.myshopify.com", "access_token": "tok"},
    }[platform]
    response = client.post(BASE, json={"platform": platform, "credentials": credentials})
    assert response.status_code == 201, response.text


def requests_in_outbox(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as db:
        return db.execute(sa.select(run_requests).order_by(run_requests.c.created_at)).all()


def test_sync_queues_one_request_for_every_connected_platform(client: httpx.Client, app_engine: sa.Engine) -> None:
    connect(client, "meta_ads")
    connect(client, "shopify")
    response = client.post(f"{BASE}/sync")
    assert response.status_code == 202 and response.json() == {"message": "Sync started"}
    [request] = requests_in_outbox(app_engine)
    assert request.kind == "sync" and request.status == "pending" and request.company_id == COMPANY
    assert sorted(request.platforms) == ["meta_ads", "shopify"] and request.requested_by == "user-1"


@pytest.mark.parametrize("state", ["pending", "running"])
def test_a_sync_while_one_is_pending_or_running_is_merged_into_it(
    client: httpx.Client, app_engine: sa.Engine, state: str
) -> None:
    connect(client, "meta_ads")
    assert client.post(f"{BASE}/sync").status_code == 202
    [first] = requests_in_outbox(app_engine)
    with app_engine.begin() as db:
        db.execute(run_requests.update().where(run_requests.c.id == first.id).values(status=state))
    for _ in range(3):
        response = client.post(f"{BASE}/sync")
        assert response.status_code == 202 and response.json() == {"message": "Sync started"}
    assert [(row.id, row.status) for row in requests_in_outbox(app_engine)] == [(first.id, state)]


def test_a_sync_after_the_last_one_finished_is_queued_anew(client: httpx.Client, app_engine: sa.Engine) -> None:
    connect(client, "meta_ads")
    assert client.post(f"{BASE}/sync").status_code == 202
    [first] = requests_in_outbox(app_engine)
    with app_engine.begin() as db:
        db.execute(run_requests.update().where(run_requests.c.id == first.id).values(status="succeeded"))
    assert client.post(f"{BASE}/sync").status_code == 202
    assert [row.status for row in requests_in_outbox(app_engine)] == ["succeeded", "pending"]


def test_sync_without_connections_is_400(client: httpx.Client, app_engine: sa.Engine) -> None:
    response = client.post(f"{BASE}/sync")
    assert response.status_code == 400 and "no active connection" in response.json()["detail"]
    assert requests_in_outbox(app_engine) == []


@pytest.mark.parametrize("days", [30, 60, 90])
def test_backfill_queues_the_ad_platforms(client: httpx.Client, app_engine: sa.Engine, days: int) -> None:
    connect(client, "meta_ads")
    connect(client, "shopify")
    response = client.post(f"{BASE}/backfill", json={"days": days})
    assert response.status_code == 202 and response.json() == {"message": f"Backfill started for {days} days"}
    [request] = requests_in_outbox(app_engine)
    assert request.kind == "backfill" and request.days == days and request.platforms == ["meta_ads"]


@pytest.mark.parametrize("body", [{"days": "30"}, {"days": 0}, {"days": 45}, {"days": 30.0}, {"days": True}, {}])
def test_backfill_days_outside_30_60_90_is_400(client: httpx.Client, app_engine: sa.Engine, body: dict) -> None:
    connect(client)
    response = client.post(f"{BASE}/backfill", json=body)
    assert response.status_code == 400
    assert response.json() == {"detail": "days must be one of 30, 60 or 90"}
    assert requests_in_outbox(app_engine) == []


def test_second_backfill_while_one_is_pending_is_409(client: httpx.Client, app_engine: sa.Engine) -> None:
    connect(client)
    assert client.post(f"{BASE}/backfill", json={"days": 30}).status_code == 202
    response = client.post(f"{BASE}/backfill", json={"days": 60})
    assert response.status_code == 409 and response.json() == {"detail": "A backfill is already in progress"}
    with app_engine.begin() as db:
        db.execute(run_requests.update().values(status="succeeded"))
    assert client.post(f"{BASE}/backfill", json={"days": 60}).status_code == 202


def test_concurrent_backfills_get_exactly_one_202(client: httpx.Client, app_engine: sa.Engine, api_url: str) -> None:
    connect(client)
    headers = dict(client.headers)

    def request(_: int) -> int:
        return httpx.post(f"{api_url}{BASE}/backfill", json={"days": 30}, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(pool.map(request, range(6)))
    assert codes == [202] + [409] * 5
    assert len(requests_in_outbox(app_engine)) == 1


def test_backfill_state_shows_the_latest_request(client: httpx.Client) -> None:
    assert client.get(f"{BASE}/backfill").json() == {"backfill": None}
    connect(client)
    client.post(f"{BASE}/backfill", json={"days": 30})
    state = client.get(f"{BASE}/backfill").json()["backfill"]
    assert state["status"] == "pending" and state["days"] == 30 and state["platforms"] == ["meta_ads"]
    assert state["partitions_done"] == 0
