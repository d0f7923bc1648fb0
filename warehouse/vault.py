"""The credential vault: authenticated encryption (Fernet: AES-128-CBC with HMAC-SHA256) of credential objects.

Keys come from ``TALLY_ENCRYPTION_KEYS``, comma separated: the first encrypts, every key decrypts, so keys rotate
by putting a new key first and running ``tally keys rotate``.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tally.errors import ConfigurationError
from tally.settings import Settings
from warehouse.app_tables import connections


class CredentialVault:
    """Encrypts credential objects before they are stored and decrypts them inside a run or a test call."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError("TALLY_ENCRYPTION_KEYS is not set: generate one with `tally keys generate`")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError:
            raise ConfigurationError(
                "TALLY_ENCRYPTION_KEYS holds an invalid key: each must be a url-safe base64 32-byte Fernet key"
            ) from None

    @classmethod
    def from_settings(cls, settings: Settings) -> CredentialVault:
        """The vault of the keys in ``TALLY_ENCRYPTION_KEYS``."""
        raw = settings.encryption_keys.get_secret_value() if settings.encryption_keys else ""
        return cls([key.strip() for key in raw.split(",") if key.strip()])

    def encrypt(self, credentials: dict[str, Any]) -> str:
        """The encrypted form of a credentials object, as stored in the app database."""
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        """The credentials object behind an encrypted value."""
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ConfigurationError(
                "stored credentials cannot be decrypted with TALLY_ENCRYPTION_KEYS (was a key removed?)"
            ) from None

    def rotate(self, token: str) -> str:
        """The same credentials re-encrypted under the first key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise ConfigurationError("a stored credential cannot be decrypted with any configured key") from None


def generate_key() -> str:
    """A new random Fernet key."""
    return Fernet.generate_key().decode()


def rotate_all(engine: sa.Engine, vault: CredentialVault) -> int:
    """Re-encrypt every stored credential under the first key, in one transaction; returns the count."""
    with engine.begin() as db:
        rows = db.execute(
            sa.select(connections.c.id, connections.c.credentials_encrypted).where(
                connections.c.credentials_encrypted.is_not(None)
            )
        ).all()
        for row in rows:
            db.execute(
                connections.update()
                .where(connections.c.id == row.id)
                .values(credentials_encrypted=vault.rotate(row.credentials_encrypted))
            )
    return len(rows)
