"""The GA4 connection test: a token from Google's token endpoint, then the Admin API's property, on the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from pipelines import ga4
from pipelines.emulator.ga4 import PERMISSION_DENIED, property_account
from pipelines.ga4 import GA4Credentials
from pipelines.ga4.settings import SCOPE
from tally.background_server import serve_in_thread
from tally.settings import Settings

CredentialKind = Literal["service_account", "oauth"]
MakeCredentials = Callable[..., GA4Credentials]

REFUSED = {
    "service_account": "Google refused the credentials (invalid_grant: Invalid JWT Signature.)",
    "oauth": "Google refused the credentials (invalid_grant: Token has been expired or revoked.)",
}


def new_property(prefix: str = "7") -> str:
    """A property id of its own per test (digits; one starting with 403 is not shared with the caller)."""
    return f"{prefix}{uuid4().int % 10**9:09d}"


@pytest.mark.parametrize("kind", ["service_account", "oauth"])
@pytest.mark.parametrize(("property_id", "currency"), [("314159265", "USD"), ("491828182", "EUR")])
def test_good_credentials_describe_the_property(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials, kind: CredentialKind,
    property_id: str, currency: str,
) -> None:  # fmt: skip
    result = ga4.test_connection(ga4_credentials(f"properties/{property_id}", kind), settings)
    account = property_account(property_id)
    assert account.currency == currency
    assert result.success and result.error is None
    assert (result.account_id, result.display_name) == (property_id, account.name)
    assert (result.currency, result.timezone) == (account.currency, account.timezone)
    assert result.token_expires_at is None  # the access token's hour is not the credential's: each load refreshes
    assert result.scopes == [SCOPE]


@pytest.mark.parametrize("kind", ["service_account", "oauth"])
@pytest.mark.parametrize("prefix", ["expired", "revoked"])
def test_refused_credentials_fail_with_googles_own_reason(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials, kind: CredentialKind, prefix: str
) -> None:
    secret = f"{prefix}-{uuid4().hex}"
    property_id = new_property()
    result = ga4.test_connection(ga4_credentials(property_id, kind, secret), settings)
    assert not result.success
    assert result.error == f"Google Analytics 4: {REFUSED[kind]}"
    assert emulator.get(f"/_emulator/requests/ga4/{property_id}").json()["requests"] == 0


def test_a_property_not_shared_with_the_caller_fails_with_permission_denied(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials
) -> None:
    result = ga4.test_connection(ga4_credentials(new_property("403")), settings)
    assert not result.success
    assert result.error == f"Google Analytics 4: {PERMISSION_DENIED} (PERMISSION_DENIED)"


def test_a_property_that_keeps_failing_is_reported_not_raised(
    emulator: httpx.Client, settings: Settings, ga4_credentials: MakeCredentials
) -> None:
    property_id = new_property()
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json={"server_error": 10})
    result = ga4.test_connection(ga4_credentials(property_id), settings)
    assert not result.success
    assert result.error == "Google Analytics 4: server error after retries: Internal error encountered. (INTERNAL)"
    assert emulator.get(f"/_emulator/requests/ga4/{property_id}").json()["requests"] == settings.http_max_attempts


@pytest.fixture()
def token_endpoint(settings: Settings) -> Iterator[tuple[Settings, list[dict[str, Any]], list[int]]]:
    """Settings whose Google token endpoint is a stand-in answering what the test puts in ``answers``.

    Each grant is answered with ``answers[0]`` (``{"status": ..., "body": ...}``); ``calls`` counts the requests.
    """
    answers: list[dict[str, Any]] = []
    calls: list[int] = []
    app = FastAPI()

    @app.post("/token")
    def token() -> JSONResponse:
        calls.append(1)
        return JSONResponse(answers[0]["body"], status_code=answers[0]["status"])

    with serve_in_thread(app) as url:
        yield settings.model_copy(update={"google_oauth_base_url": url}), answers, calls


@pytest.mark.parametrize("kind", ["service_account", "oauth"])
@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (503, {"error": "backendError"}, "server error after retries: backendError"),
        (200, {"token_type": "Bearer", "expires_in": 3599}, "Google's token endpoint answered without a token"),
    ],
)
def test_a_token_endpoint_that_fails_is_reported_without_secrets(
    token_endpoint: tuple[Settings, list[dict[str, Any]], list[int]], ga4_credentials: MakeCredentials,
    kind: CredentialKind, status: int, body: dict[str, Any], error: str,
) -> None:  # fmt: skip
    settings, answers, calls = token_endpoint
    answers.append({"status": status, "body": body})
    secret = f"secret-{uuid4().hex}"
    result = ga4.test_connection(ga4_credentials(new_property(), kind, secret), settings)
    assert not result.success
    assert result.error == f"Google Analytics 4: {error}"
    assert len(calls) == (settings.http_max_attempts if status >= 500 else 1)
    assert secret not in result.model_dump_json()
