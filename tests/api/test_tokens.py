"""Token verification with an identity provider's RS256 key instead of the shared HS256 secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.auth import TokenVerifier
from tally.errors import AuthenticationFailed, ConfigurationError
from tally.settings import Settings


def test_rs256_tokens_verify_against_the_configured_public_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    verifier = TokenVerifier(Settings(_env_file=None, jwt_public_key=public_pem, jwt_algorithms=["RS256"]))
    claims = {
        "sub": "ana",
        "permissions": ["clients:view"],
        "companies": ["c1"],
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    principal = verifier.verify(jwt.encode(claims, key, algorithm="RS256"))
    assert principal.sub == "ana" and principal.can_reach("c1") and not principal.can_reach("c2")
    with pytest.raises(AuthenticationFailed):
        verifier.verify(jwt.encode(claims, "a-shared-secret-that-is-long-enough-0123", algorithm="HS256"))


def test_no_token_key_refuses_to_start_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="TALLY_JWT_SECRET"):
        TokenVerifier(Settings(_env_file=None))
