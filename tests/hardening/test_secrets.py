"""A sentinel in every secret credential field of every platform, through everything Tally does, found nowhere.

Connections are created, tested, synced, backfilled, fail (expired tokens, 500s, a token revoked mid-run), the
model answers a question and writes a QBR; then every API response, the DEBUG log (dlt's included), what the
model was sent, the Dagster instance, every file under the test's directories (each run's dlt working folder, with
its state, trace and load packages, is copied aside before the run removes it) and dlt's home folder, every text of
the warehouse, the pipeline state dlt keeps there compressed, and every text of the app database (but the
encrypted column) is searched for the sentinel. The keys are
rotated with ``tally keys rotate`` on the way, and the connections then work with the new key alone.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from api.main import create_app
from orchestration.resources import TallyResource
from pipelines.emulator.accounts import emulator_credentials
from pipelines.ga4.settings import SCOPE as GA4_SCOPE
from pipelines.registry import PLATFORMS, get_platform
from tally import cli
from tally.background_server import serve_in_thread
from tally.errors import ConfigurationError
from tests.hardening.conftest import COMPANY, OTHER_COMPANY, Stack
from tests.hardening.leaks import (
    ENCRYPTED_COLUMN,
    dagster_hits,
    dlt_states,
    duckdb_text_hits,
    files_holding,
    sql_text_hits,
)
from tests.orchestration.conftest import store_emulated_connection
from warehouse import run_requests as requests_store
from warehouse.app_tables import connections
from warehouse.vault import CredentialVault, generate_key

MARK = f"SNTL{uuid.uuid4().hex[:16]}"  # unique to this test session, so an old file cannot match it
CONTROL = emulator_credentials("google_ads", 1)["customer_id"]  # an account id: no secret, so it is found everywhere


def sentinel_credentials(platform: str, seed: int, prefix: str = "") -> dict[str, Any]:
    """An emulated account's credentials with the sentinel in every secret field (``prefix`` first: ``expired-``)."""
    secret = {field.name for field in get_platform(platform).credential_fields() if field.secret}
    return {
        name: f"{prefix}{MARK}-{platform}-{name}" if name in secret else value
        for name, value in emulator_credentials(platform, seed).items()
    }


PRIVATE_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode()
)
SERVICE_ACCOUNT = f"{MARK}-ga4@tally-hardening.iam.gserviceaccount.com"


def service_account_credentials() -> dict[str, Any]:
    """GA4 credentials of a service account whose key id and e-mail carry the sentinel, and whose key is secret."""
    key = {
        "type": "service_account",
        "project_id": "tally-hardening",
        "private_key_id": f"{MARK}-ga4-key-id",
        "private_key": PRIVATE_KEY,
        "client_email": SERVICE_ACCOUNT,
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return {"property_id": emulator_credentials("ga4", 3)["property_id"], "service_account_json": key}


def derived_secrets() -> list[str]:
    """A line of the service account's private key, and the access tokens the emulator's Google token endpoint
    hands out for the sentinel refresh tokens and the service account."""
    grants = [sentinel_credentials(platform, 1)["refresh_token"] for platform in ("google_ads", "ga4")]
    grants.append(f"{SERVICE_ACCOUNT}|{GA4_SCOPE}")
    tokens = [f"ya29.{hashlib.sha256(grant.encode()).hexdigest()[:24]}" for grant in grants]
    return [PRIVATE_KEY.splitlines()[5], *tokens]


def connections_url(company: str) -> str:
    return f"/api/clients/{company}/connections"


def create_connections(api: httpx.Client) -> dict[str, str]:
    """Every platform connected for COMPANY through the API, each tested again; their ids."""
    ids = {}
    for platform in PLATFORMS:
        body = {"platform": platform, "credentials": sentinel_credentials(platform, 1), "display_name": platform}
        created = api.post(connections_url(COMPANY), json=body)
        assert created.status_code == 201, created.text
        ids[platform] = created.json()["connection"]["id"]
        tested = api.post(f"{connections_url(COMPANY)}/{ids[platform]}/test")
        assert tested.status_code == 200 and tested.json()["success"], tested.text
    return ids


def expired_connections(stack: Stack) -> None:
    """Expired tokens: refused when created through the API; stored anyway for OTHER_COMPANY, tested and synced
    beside a GA4 service account (its key file's secrets are the other kind of Google credential).

    The expired runs are of two platforms (an access token and a Google refresh token) to keep the test short.
    """
    for platform in PLATFORMS:
        body = {"platform": platform, "credentials": sentinel_credentials(platform, 2, prefix="expired-")}
        assert stack.api.post(connections_url(OTHER_COMPANY), json=body).status_code == 400
    vault = CredentialVault.from_settings(stack.settings)
    for platform in ("meta_ads", "google_ads"):
        overrides = {k: v for k, v in sentinel_credentials(platform, 2, "expired-").items() if MARK in v}
        with stack.app_engine.begin() as db:
            row = store_emulated_connection(db, vault, OTHER_COMPANY, platform, 2, **overrides)
        tested = stack.api.post(f"{connections_url(OTHER_COMPANY)}/{row['id']}/test")
        assert tested.status_code == 200 and not tested.json()["success"], tested.text
    body = {"platform": "ga4", "credentials": service_account_credentials()}
    created = stack.api.post(connections_url(OTHER_COMPANY), json=body)
    assert created.status_code == 201, created.text
    assert stack.api.post(f"{connections_url(OTHER_COMPANY)}/{created.json()['connection']['id']}/test").json()[
        "success"
    ]
    assert stack.api.post(f"{connections_url(OTHER_COMPANY)}/sync").status_code == 202
    assert stack.run_pending() == {"meta_ads": False, "google_ads": False, "ga4": True}


def sync_and_backfill(stack: Stack, emulator: httpx.Client) -> None:
    """A sync of every platform, then a 30-day backfill where Meta's token dies mid-run and TikTok answers 500s."""
    assert stack.api.post(f"{connections_url(COMPANY)}/sync").status_code == 202
    assert stack.run_pending() == dict.fromkeys(PLATFORMS, True)
    for platform, fault in {"meta_ads": {"revoke_after": 1}, "tiktok_ads": {"server_error": 20}}.items():
        account = get_platform(platform).credentials_model.model_validate(sentinel_credentials(platform, 1))
        emulator.put(f"/_emulator/faults/{platform}/{account.account_id()}", json=fault).raise_for_status()
    assert stack.api.post(f"{connections_url(COMPANY)}/backfill", json={"days": 30}).status_code == 202
    assert stack.run_pending() == {"meta_ads": False, "google_ads": True, "tiktok_ads": False}
    emulator.delete("/_emulator/faults").raise_for_status()


def ask_and_review(stack: Stack) -> None:
    """The model answers a question through a tool and writes a QBR, both about COMPANY's loaded data."""
    period = {"period_type": "month", "period_end": (date.today() - timedelta(days=1)).isoformat()}
    stack.fake_openai.call_tools(("period_metrics", period))
    stack.fake_openai.answer("Spend this month is in the figures.")
    asked = stack.api.post(f"/api/clients/{COMPANY}/results/ask", json={"question": "How is spend this month?"})
    assert asked.status_code == 200, asked.text
    stack.fake_openai.answer("A quarter in review.")
    review = stack.api.post(f"/api/clients/{COMPANY}/results/prepare-qbr")
    assert review.status_code == 201 and review.json()["qbr"]["source"] == "llm", review.text
    for path in ("connections", "connections/backfill", "results", "results/campaigns", "qbrs"):
        for company in (COMPANY, OTHER_COMPANY):
            assert stack.api.get(f"/api/clients/{company}/{path}").status_code == 200
    assert stack.api.get("/api/clients/platforms").status_code == 200


def rotate_keys(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    """``tally keys rotate`` with a new key first; returns the new key, now the only one the environment has."""
    assert stack.settings.encryption_keys is not None
    old, new = stack.settings.encryption_keys.get_secret_value(), generate_key()
    monkeypatch.setenv("TALLY_ENCRYPTION_KEYS", f"{new},{old}")
    monkeypatch.setenv("TALLY_APP_DATABASE_URL", stack.settings.resolved_app_database_url)
    assert cli.main(["keys", "rotate"]) == 0
    monkeypatch.setenv("TALLY_ENCRYPTION_KEYS", new)
    with stack.app_engine.connect() as db:
        stored = db.execute(sa.select(connections.c.credentials_encrypted)).scalars().all()
    assert len(stored) == len(PLATFORMS) + 3 and all(stored)  # acme's five; globex's two expired ones and GA4
    for token in stored:
        assert MARK in str(CredentialVault([new]).decrypt(token))
        with pytest.raises(ConfigurationError):
            CredentialVault([old]).decrypt(token)
    return new


def works_with_the_new_key_only(stack: Stack, new_key: str) -> None:
    """After rotation, the API tests every connection, and a run loads one, with the new key alone."""
    settings = stack.settings.model_copy(update={"encryption_keys": SecretStr(new_key)})
    with (
        serve_in_thread(create_app(settings, engine=stack.app_engine)) as url,
        httpx.Client(base_url=url, headers=stack.api.headers, event_hooks=stack.api.event_hooks) as api,
    ):
        for connection in api.get(connections_url(COMPANY)).json()["connections"]:
            tested = api.post(f"{connections_url(COMPANY)}/{connection['id']}/test")
            assert tested.json()["success"], tested.text
    with stack.app_engine.begin() as db:  # one run is enough to show runs decrypt with the new key
        requests_store.create_request(db, COMPANY, "sync", ["google_ads"], "hardening")
    stack.tally = TallyResource(
        data_dir=stack.tally.data_dir,
        app_database_url=stack.tally.app_database_url,
        warehouse_url=stack.tally.warehouse_url,
        platform_base_url=stack.tally.platform_base_url,
    )
    assert stack.run_pending() == {"google_ads": True}


def keep_dlt_working_folders(monkeypatch: pytest.MonkeyPatch, runs: Path, kept: Path) -> None:
    """Copy each run's dlt working folder (state, trace, load packages) aside before the run removes it."""
    remove = shutil.rmtree

    def copy_then_remove(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).is_relative_to(runs) and Path(path).exists():
            shutil.copytree(path, kept / Path(path).relative_to(runs), dirs_exist_ok=True)
        remove(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", copy_then_remove)


def secret_hits(stack: Stack, log_text: str, tmp_path: Path, secrets: list[str]) -> dict[str, list[str]]:
    """Every place one of ``secrets`` was found."""
    settings = stack.settings
    warehouse = (
        sql_text_hits(settings.warehouse_url, secrets)
        if settings.warehouse_url
        else duckdb_text_hits(settings.duckdb_path, secrets)
    )
    states = dlt_states(settings.warehouse_url, settings.duckdb_path)
    assert states, "no dlt state found in the warehouse"
    return {
        "api responses": [s for s in secrets if s in "\n".join(stack.responses)],
        "log": [s for s in secrets if s in log_text],
        "model requests": [s for s in secrets if s in stack.fake_openai.everything_sent()],
        "dagster": dagster_hits(stack.instance, secrets),
        "files": files_holding(tmp_path, secrets) + files_holding(Path.home() / ".dlt", secrets),
        "warehouse": warehouse,
        "dlt state in the warehouse": [place for place, state in states.items() for s in secrets if s in state],
        "app database": sql_text_hits(settings.resolved_app_database_url, secrets, skip=ENCRYPTED_COLUMN),
    }


@pytest.mark.slow
def test_no_credential_reaches_a_response_log_run_file_or_table(
    stack: Stack,
    emulator: httpx.Client,
    dlt_debug_logs: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    kept = tmp_path / "dlt working folders"
    keep_dlt_working_folders(monkeypatch, stack.settings.data_dir / "dlt" / "runs", kept)
    create_connections(stack.api)
    sync_and_backfill(stack, emulator)
    expired_connections(stack)
    ask_and_review(stack)
    new_key = rotate_keys(stack, monkeypatch)
    works_with_the_new_key_only(stack, new_key)

    assert any(record.name.startswith("dlt") for record in caplog.records), "dlt's DEBUG log was not captured"
    # One run per request: the sync, the backfill, OTHER_COMPANY's sync, and the sync under the new key.
    assert stack.fake_openai.requests and len(stack.instance.get_runs()) >= 4
    kept_files = {path.name for path in kept.rglob("*")}
    assert {"state.json", "trace.pickle", "meta_ads.schema.json"} <= kept_files, "dlt's working folders were not kept"
    hits = secret_hits(stack, caplog.text, tmp_path, [MARK, *derived_secrets()])
    assert hits == {place: [] for place in hits}
    # The search itself works: an account id, which is no secret, is found in every place but the model's prompts
    # and dlt's stored state (which holds no account data).
    control = secret_hits(stack, caplog.text, tmp_path, [CONTROL])
    unfound = ["model requests", "dlt state in the warehouse"]
    assert [place for place, found in control.items() if not found] == unfound
