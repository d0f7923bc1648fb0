"""The credential vault and key rotation, through the ``tally`` command as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from tally.errors import ConfigurationError
from tally.settings import Settings
from warehouse import connections as store
from warehouse.app_database import create_app_engine, upgrade
from warehouse.app_tables import connections
from warehouse.vault import CredentialVault, generate_key

CREDENTIALS = {"access_token": "sentinel-rotate-4411", "ad_account_id": "77"}


def store_connection(engine: sa.Engine, vault: CredentialVault, company: str) -> str:
    with engine.begin() as db:
        row = store.insert_connection(
            db,
            store.NewConnection(
                company_id=company,
                platform="meta_ads",
                source="manual",
                connected_by_user_id="u",
                account_id="77",
                display_name=None,
                store_url=None,
                currency="USD",
                timezone="UTC",
                scopes=[],
                token_expires_at=None,
                credentials_encrypted=vault.encrypt(CREDENTIALS),
            ),
        )
    return row["id"]


def test_encryption_is_authenticated_and_holds_no_plaintext() -> None:
    vault = CredentialVault([generate_key()])
    token = vault.encrypt(CREDENTIALS)
    assert "sentinel" not in token and "access_token" not in token
    assert vault.decrypt(token) == CREDENTIALS
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(ConfigurationError):
        vault.decrypt(tampered)


def test_missing_or_invalid_keys_are_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="TALLY_ENCRYPTION_KEYS"):
        CredentialVault.from_settings(Settings(_env_file=None))
    with pytest.raises(ConfigurationError, match="TALLY_ENCRYPTION_KEYS"):
        CredentialVault(["not-a-key"])


def test_cli_rotation_reencrypts_every_row_under_the_new_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = create_app_engine(url)
    old_key, new_key = generate_key(), generate_key()
    ids = [store_connection(engine, CredentialVault([old_key]), company) for company in ("a", "b", "c")]
    env = {**os.environ, "TALLY_APP_DATABASE_URL": url, "TALLY_ENCRYPTION_KEYS": f"{new_key},{old_key}"}
    result = subprocess.run(
        [sys.executable, "-m", "tally.cli", "keys", "rotate"], env=env, capture_output=True, text=True, check=True
    )
    assert "re-encrypted 3 connection credentials" in result.stdout
    only_new = CredentialVault([new_key])
    with engine.connect() as db:
        stored = dict(db.execute(sa.select(connections.c.id, connections.c.credentials_encrypted)).all())
    assert sorted(stored) == sorted(ids)
    assert all(only_new.decrypt(token) == CREDENTIALS for token in stored.values())
    with pytest.raises(ConfigurationError):
        CredentialVault([old_key]).decrypt(next(iter(stored.values())))


def test_demo_mode_makes_private_keys_once(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, demo=True, data_dir=tmp_path).with_demo_secrets()
    again = Settings(_env_file=None, demo=True, data_dir=tmp_path).with_demo_secrets()
    assert isinstance(settings.encryption_keys, SecretStr)
    assert settings.encryption_keys.get_secret_value() == again.encryption_keys.get_secret_value()
    assert (tmp_path / "encryption.key").stat().st_mode & 0o777 == 0o600
    CredentialVault.from_settings(settings)
