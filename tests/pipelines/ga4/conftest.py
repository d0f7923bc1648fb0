"""GA4 credentials for tests: a service account's key file (with a real RSA key) or an OAuth refresh token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pipelines.ga4 import GA4Credentials

CredentialKind = Literal["service_account", "oauth"]
MakeCredentials = Callable[..., GA4Credentials]


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    """An RSA private key in PEM, as a service account's key file holds it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture()
def service_account_key(private_key_pem: str) -> Callable[[str], dict[str, str]]:
    """Build a service account's key file whose key id and e-mail carry a secret (the emulator refuses a key id
    starting with ``expired`` or ``revoked``)."""

    def build(secret: str) -> dict[str, str]:
        return {
            "type": "service_account",
            "project_id": "tally-test",
            "private_key_id": secret,
            "private_key": private_key_pem,
            "client_email": f"{secret}@tally-test.iam.gserviceaccount.com",
            "client_id": "101234567890",
            "token_uri": "https://oauth2.googleapis.com/token",
        }

    return build


@pytest.fixture()
def ga4_credentials(service_account_key: Callable[[str], dict[str, str]]) -> MakeCredentials:
    """Build credentials of one kind for a property; ``secret`` goes in every secret field."""

    def build(property_id: str, kind: CredentialKind = "service_account", secret: str = "good") -> GA4Credentials:
        if kind == "service_account":
            key = service_account_key(secret)
            return GA4Credentials(property_id=property_id, service_account_json=json.dumps(key))
        return GA4Credentials(
            property_id=property_id,
            client_id="tally-test.apps.googleusercontent.com",
            client_secret=secret,
            refresh_token=secret,
        )

    return build
