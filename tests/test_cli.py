"""The ``tally`` command line as a newcomer uses it."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt

SECRET = "cli-test-secret-0123456789-0123456789"


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
