"""Token verification: an identity provider's RS256 key instead of the shared HS256 secret, and the audience and
issuer a token must name when ``TALLY_JWT_AUDIENCE`` and ``TALLY_JWT_ISSUER`` are set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.auth import TokenVerifier, mint_token
from api.main import create_app
from tally.background_server import serve_in_thread
from tally.errors import AuthenticationFailed, ConfigurationError
from tally.settings import Settings
from tests.api.conftest import COMPANY, JWT_SECRET


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


AUDIENCE = "https://api.tally.example"
ISSUER = "https://login.agency.example/"


@pytest.fixture()
def strict_api(api_settings: Settings, app_engine: sa.Engine) -> Iterator[str]:
    """The API on loopback accepting only tokens for AUDIENCE from ISSUER."""
    settings = api_settings.model_copy(update={"jwt_audience": AUDIENCE, "jwt_issuer": ISSUER})
    with serve_in_thread(create_app(settings, engine=app_engine)) as url:
        yield url


def token(**claims: object) -> str:
    base = {
        "sub": "ana",
        "permissions": ["clients:view"],
        "companies": [COMPANY],
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    return jwt.encode({**base, **claims}, JWT_SECRET, algorithm="HS256")


def connections_as(url: str, bearer: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"}
    return httpx.get(f"{url}/api/clients/{COMPANY}/connections", headers=headers, timeout=30)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": AUDIENCE, "iss": ISSUER},
        {"aud": ["https://another-api.example", AUDIENCE], "iss": ISSUER},
    ],
    ids=["audience", "one of its audiences"],
)
def test_a_token_for_the_configured_audience_and_issuer_is_accepted(strict_api: str, claims: dict) -> None:
    response = connections_as(strict_api, token(**claims))
    assert response.status_code == 200, response.text
    assert response.json() == {"connections": []}


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"iss": ISSUER},
        {"aud": AUDIENCE},
        {"aud": "https://another-api.example", "iss": ISSUER},
        {"aud": AUDIENCE, "iss": "https://someone-else.example/"},
        {"aud": AUDIENCE.upper(), "iss": ISSUER},
    ],
    ids=["neither", "no audience", "no issuer", "another audience", "another issuer", "audience in other case"],
)
def test_tokens_without_or_with_another_audience_or_issuer_are_401(strict_api: str, claims: dict) -> None:
    response = connections_as(strict_api, token(**claims))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_without_audience_and_issuer_settings_tokens_need_neither(api_url: str) -> None:
    response = connections_as(api_url, token())
    assert response.status_code == 200, response.text


def test_minted_tokens_carry_the_configured_audience_and_issuer() -> None:
    settings = Settings(_env_file=None, jwt_secret=JWT_SECRET, jwt_audience=AUDIENCE, jwt_issuer=ISSUER)
    minted = mint_token(settings, "ana", ["clients:view"], [COMPANY])
    claims = jwt.decode(minted, JWT_SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["aud"] == AUDIENCE and claims["iss"] == ISSUER
    assert TokenVerifier(settings).verify(minted).sub == "ana"
