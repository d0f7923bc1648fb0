"""The ``tally`` command line as a newcomer uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import sqlalchemy as sa
from pydantic import SecretStr

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from warehouse.app_database import upgrade
from warehouse.app_tables import connections
from warehouse.vault import CredentialVault, generate_key

SECRET = "cli-test-secret-0123456789-0123456789"
ROTATED_TOKEN = "sentinel-rotated-token-5521"


def tally(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tally.cli", *args], env={**os.environ, **env}, capture_output=True, text=True
    )


def test_token_prints_a_signed_token_with_the_asked_claims() -> None:
    result = tally(
        "token",
        "--sub",
        "ana",
        "--permissions",
        "clients:view",
        "--companies",
        "c1,c2",
        "--ttl",
        "60",
        TALLY_JWT_SECRET=SECRET,
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ana" and claims["permissions"] == ["clients:view"] and claims["companies"] == ["c1", "c2"]
    assert claims["exp"] - claims["iat"] == 60


def test_token_names_the_configured_audience_and_issuer() -> None:
    audience, issuer = "https://api.tally.example", "https://login.agency.example/"
    result = tally(
        "token",
        "--sub",
        "ana",
        "--companies",
        "c1",
        TALLY_JWT_SECRET=SECRET,
        TALLY_JWT_AUDIENCE=audience,
        TALLY_JWT_ISSUER=issuer,
    )
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"], audience=audience, issuer=issuer)
    assert claims["aud"] == audience and claims["iss"] == issuer


def test_token_without_a_secret_names_the_setting() -> None:
    env = {key: value for key, value in os.environ.items() if key != "TALLY_JWT_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "tally.cli", "token", "--sub", "a", "--companies", "c"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "TALLY_JWT_SECRET" in result.stderr


def test_keys_generate_prints_a_usable_key() -> None:
    from warehouse.vault import CredentialVault

    key = tally("keys", "generate").stdout.strip()
    CredentialVault([key])


@contextmanager
def api_with_keys(settings: Settings, keys: str) -> Iterator[httpx.Client]:
    """The API on loopback with these encryption keys, and a client with a token for company c1."""
    app_settings = settings.model_copy(update={"encryption_keys": SecretStr(keys), "jwt_secret": SecretStr(SECRET)})
    claims = {"sub": "ops", "permissions": ["clients:update"], "companies": ["c1"]}
    bearer = jwt.encode({**claims, "exp": datetime.now(UTC) + timedelta(hours=1)}, SECRET, algorithm="HS256")
    with (
        serve_in_thread(create_app(app_settings)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {bearer}"}, timeout=30) as http,
    ):
        yield http


def stored_credentials(url: str) -> dict[str, str | None]:
    engine = sa.create_engine(url)
    with engine.connect() as db:
        stored = dict(db.execute(sa.select(connections.c.id, connections.c.credentials_encrypted)).all())
    engine.dispose()
    return stored


def test_keys_rotate_moves_a_stored_credential_to_the_new_key(settings: Settings, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    settings = settings.model_copy(update={"app_database_url": url})
    old_key, new_key = generate_key(), generate_key()
    meta = {"platform": "meta_ads", "credentials": {"access_token": ROTATED_TOKEN, "ad_account_id": "5521"}}
    with api_with_keys(settings, old_key) as api:
        made = api.post("/api/clients/c1/connections", json=meta)
        assert made.status_code == 201, made.text
        connection_id = made.json()["connection"]["id"]
    before = stored_credentials(url)[connection_id]
    assert before is not None and CredentialVault([old_key]).decrypt(before)["access_token"] == ROTATED_TOKEN

    result = tally("keys", "rotate", TALLY_APP_DATABASE_URL=url, TALLY_ENCRYPTION_KEYS=f"{new_key},{old_key}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "re-encrypted 1 connection credentials under the first key"
    assert ROTATED_TOKEN not in result.stdout + result.stderr

    after = stored_credentials(url)[connection_id]
    assert after is not None and after != before, "the rotation left the stored ciphertext as it was"
    assert ROTATED_TOKEN not in after and "access_token" not in after
    assert CredentialVault([new_key]).decrypt(after) == {"access_token": ROTATED_TOKEN, "ad_account_id": "5521"}
    with api_with_keys(settings, new_key) as api:
        tested = api.post(f"/api/clients/c1/connections/{connection_id}/test")
    assert tested.status_code == 200 and tested.json()["success"] is True, tested.text
