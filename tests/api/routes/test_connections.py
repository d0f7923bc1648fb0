"""The Client Connections routes, as the product calls them, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from tally.settings import Settings
from tests.api.conftest import COMPANY, OTHER_COMPANY, TokenMaker
from warehouse.app_tables import connections
from warehouse.vault import CredentialVault

DOCUMENTED_FIELDS = {
    "id",
    "company_id",
    "platform",
    "status",
    "source",
    "connected_by_user_id",
    "connected_at",
    "last_synced_at",
    "last_sync_error",
    "store_url",
    "account_id",
    "display_name",
    "scopes",
    "token_expires_at",
    "created_at",
    "updated_at",
}
SENTINEL = "sentinel-7f3a9c-do-not-leak"


def meta(account: str = "1001", token: str = SENTINEL) -> dict[str, object]:
    return {"platform": "meta_ads", "credentials": {"access_token": token, "ad_account_id": account}}


def create(client: httpx.Client, body: dict[str, object]) -> dict[str, object]:
    response = client.post(f"/api/clients/{COMPANY}/connections", json=body)
    assert response.status_code == 201, response.text
    return response.json()["connection"]


def stored_row(engine: sa.Engine, connection_id: str) -> sa.Row:
    with engine.connect() as db:
        return db.execute(sa.select(connections).where(connections.c.id == connection_id)).one()


def test_create_stores_an_active_tested_connection(client: httpx.Client) -> None:
    response = client.post(f"/api/clients/{COMPANY}/connections", json=meta())
    assert response.status_code == 201
    connection = response.json()["connection"]
    assert set(connection) == DOCUMENTED_FIELDS | {"health"}
    assert connection["company_id"] == COMPANY
    assert connection["platform"] == "meta_ads"
    assert connection["status"] == "active"
    assert connection["source"] == "manual"
    assert connection["connected_by_user_id"] == "user-1"
    assert connection["account_id"] == "1001"
    assert connection["display_name"]
    assert isinstance(connection["scopes"], list)
    assert SENTINEL not in response.text


def test_credentials_are_encrypted_at_rest(client: httpx.Client, app_engine: sa.Engine, api_settings: Settings) -> None:
    connection = create(client, meta())
    raw = stored_row(app_engine, connection["id"]).credentials_encrypted
    assert SENTINEL not in raw
    assert "access_token" not in raw and "1001" not in raw
    decrypted = CredentialVault.from_settings(api_settings).decrypt(raw)
    assert decrypted == {"access_token": SENTINEL, "ad_account_id": "1001"}


def test_caller_display_name_wins_and_shopify_keeps_its_store_url(client: httpx.Client) -> None:
    body = {
        "platform": "shopify",
        "credentials": {"store_url": "https://acme-store.myshopify.com", "access_token": SENTINEL},
        "display_name": "Acme shop",
    }
    connection = create(client, body)
    assert connection["display_name"] == "Acme shop"
    assert "acme-store.myshopify.com" in connection["store_url"]


def test_unknown_platform_is_400(client: httpx.Client) -> None:
    response = client.post(f"/api/clients/{COMPANY}/connections", json={"platform": "myspace", "credentials": {}})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid platform")


def test_credentials_not_matching_the_schema_are_400_naming_fields_not_values(client: httpx.Client) -> None:
    body = {"platform": "meta_ads", "credentials": {"access_token": SENTINEL, "surprise": SENTINEL}}
    response = client.post(f"/api/clients/{COMPANY}/connections", json=body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "ad_account_id" in detail and "surprise" in detail
    assert SENTINEL not in response.text


def test_failed_connection_test_is_400_with_the_platform_reason_and_stores_nothing(client: httpx.Client) -> None:
    response = client.post(f"/api/clients/{COMPANY}/connections", json=meta(token="expired-" + SENTINEL))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Connection test failed") and "Meta Ads" in detail
    assert SENTINEL not in response.text
    assert client.get(f"/api/clients/{COMPANY}/connections").json() == {"connections": []}


def test_second_connection_to_a_platform_is_409_until_disconnected(client: httpx.Client) -> None:
    first = create(client, meta())
    assert client.post(f"/api/clients/{COMPANY}/connections", json=meta("2002")).status_code == 409
    assert client.delete(f"/api/clients/{COMPANY}/connections/{first['id']}").json() == {"ok": True}
    again = create(client, meta("2002"))
    assert again["id"] != first["id"] and again["account_id"] == "2002"
    statuses = {c["id"]: c["status"] for c in client.get(f"/api/clients/{COMPANY}/connections").json()["connections"]}
    assert statuses == {first["id"]: "disconnected", again["id"]: "active"}


def test_second_connection_is_409_without_asking_the_platform(client: httpx.Client, emulator: httpx.Client) -> None:
    create(client, meta())
    asked = emulator.get("/_emulator/requests/meta_ads/2002").json()["requests"]
    assert client.post(f"/api/clients/{COMPANY}/connections", json=meta("2002")).status_code == 409
    assert emulator.get("/_emulator/requests/meta_ads/2002").json()["requests"] == asked


def test_list_returns_documented_fields_only(client: httpx.Client) -> None:
    create(client, meta())
    response = client.get(f"/api/clients/{COMPANY}/connections")
    assert response.status_code == 200
    listed = response.json()["connections"]
    assert len(listed) == 1 and set(listed[0]) == DOCUMENTED_FIELDS | {"health"}
    assert SENTINEL not in response.text


def test_rename_changes_display_name_only(client: httpx.Client) -> None:
    connection = create(client, meta())
    url = f"/api/clients/{COMPANY}/connections/{connection['id']}"
    assert client.patch(url, json={"display_name": "Renamed"}).json() == {"ok": True}
    listed = client.get(f"/api/clients/{COMPANY}/connections").json()["connections"][0]
    assert listed["display_name"] == "Renamed" and listed["account_id"] == connection["account_id"]


@pytest.mark.parametrize(
    "body", [{"display_name": "x", "platform": "ga4"}, {"display_name": 42}, {"status": "active"}, []]
)
def test_rename_rejects_other_fields_and_wrong_types_with_422(client: httpx.Client, body: object) -> None:
    connection = create(client, meta())
    response = client.patch(f"/api/clients/{COMPANY}/connections/{connection['id']}", json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_unknown_or_foreign_connection_ids_are_404(
    client: httpx.Client, api_url: str, make_token: TokenMaker, method: str
) -> None:
    other = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {make_token(companies=[OTHER_COMPANY])}"})
    foreign = other.post(f"/api/clients/{OTHER_COMPANY}/connections", json=meta()).json()["connection"]
    for connection_id in ("00000000-0000-0000-0000-000000000000", foreign["id"]):
        kwargs = {"json": {"display_name": "x"}} if method == "patch" else {}
        response = client.request(method.upper(), f"/api/clients/{COMPANY}/connections/{connection_id}", **kwargs)
        assert response.status_code == 404
        assert response.json() == {"detail": "Connection not found"}
    assert other.get(f"/api/clients/{OTHER_COMPANY}/connections").json()["connections"][0]["display_name"] != "x"


def test_delete_soft_disconnects_and_erases_credentials(client: httpx.Client, app_engine: sa.Engine) -> None:
    connection = create(client, meta())
    assert client.delete(f"/api/clients/{COMPANY}/connections/{connection['id']}").json() == {"ok": True}
    row = stored_row(app_engine, connection["id"])
    assert row.status == "disconnected" and row.credentials_encrypted is None
    assert client.post(f"/api/clients/{COMPANY}/connections/{connection['id']}/test").status_code == 404


def test_health_check_passes_for_good_credentials(client: httpx.Client) -> None:
    connection = create(client, meta())
    response = client.post(f"/api/clients/{COMPANY}/connections/{connection['id']}/test")
    assert response.status_code == 200
    body = response.json()
    health = body.pop("health")
    assert body == {"success": True, "account_id": "1001", "display_name": connection["display_name"]}
    # A system user's token (debug_token's expires_at 0) with ads_read, and the emulator's usual 1% of the budget.
    assert (health["token_expires_at"], health["missing_scopes"], health["warnings"]) == (None, [], [])
    assert health["rate_limit"]["source"] == "x-business-use-case-usage"
    assert (health["rate_limit"]["used_pct"], health["rate_limit"]["nearly_spent"]) == (1, False)


def test_a_test_that_finds_a_missing_scope_puts_the_connection_in_warning_and_says_why(
    client: httpx.Client, emulator: httpx.Client
) -> None:
    connection = create(client, meta())
    assert connection["status"] == "active"
    emulator.put("/_emulator/faults/meta_ads/me", json={"missing_scopes": ["ads_read"]}).raise_for_status()

    body = client.post(f"/api/clients/{COMPANY}/connections/{connection['id']}/test").json()

    warning = "scope ads_read is missing: campaign insights and campaigns cannot be loaded"
    assert body["success"] is True and body["health"]["missing_scopes"] == ["ads_read"]
    assert body["health"]["warnings"] == [warning]
    [listed] = client.get(f"/api/clients/{COMPANY}/connections").json()["connections"]
    assert (listed["status"], listed["health"]["warnings"], listed["scopes"]) == (
        "warning",
        [warning],
        ["business_management"],
    )


def test_health_check_failure_is_recorded_and_keeps_credentials(
    client: httpx.Client, emulator: httpx.Client, app_engine: sa.Engine
) -> None:
    connection = create(client, meta("3003"))
    emulator.put("/_emulator/faults/meta_ads/3003", json={"revoke_after": 0}).raise_for_status()
    response = client.post(f"/api/clients/{COMPANY}/connections/{connection['id']}/test")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False and "Meta Ads" in body["error"]
    assert SENTINEL not in response.text
    row = stored_row(app_engine, connection["id"])
    assert row.last_sync_error == body["error"] and row.credentials_encrypted is not None

    emulator.delete("/_emulator/faults").raise_for_status()
    assert client.post(f"/api/clients/{COMPANY}/connections/{connection['id']}/test").json()["success"] is True
    assert stored_row(app_engine, connection["id"]).last_sync_error is None


def test_connection_disconnected_while_its_health_check_waits_stays_disconnected(
    client: httpx.Client, emulator: httpx.Client, app_engine: sa.Engine
) -> None:
    connection = create(client, meta("4004"))
    emulator.put("/_emulator/faults/meta_ads/4004", json={"delay_seconds": 1.5}).raise_for_status()
    url = f"/api/clients/{COMPANY}/connections/{connection['id']}"
    asked = emulator.get("/_emulator/requests/meta_ads/4004").json()["requests"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        health_check = pool.submit(client.post, f"{url}/test")
        while emulator.get("/_emulator/requests/meta_ads/4004").json()["requests"] == asked:
            time.sleep(0.02)
        assert client.delete(url).json() == {"ok": True}
        response = health_check.result()
    assert response.status_code == 404
    assert response.json() == {"detail": "Connection not found or not active"}
    row = stored_row(app_engine, connection["id"])
    assert row.status == "disconnected" and row.credentials_encrypted is None and row.last_sync_error is None
    assert client.post(f"/api/clients/{COMPANY}/connections", json=meta("4004")).status_code == 201


def test_health_check_of_unknown_connection_is_404(client: httpx.Client) -> None:
    response = client.post(f"/api/clients/{COMPANY}/connections/nope/test")
    assert response.status_code == 404
