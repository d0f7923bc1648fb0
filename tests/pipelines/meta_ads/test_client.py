"""The Meta Ads connector's HTTP pieces: credentials, the spec, error reading, the next-page guards, and throttles
that come with HTTP 400 or 403 (as Meta's real ones do) from a small stand-in server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from pipelines import meta_ads
from pipelines.meta_ads.client import GraphNextPage, is_auth_error, is_retryable, meta_http, read_error
from tally.background_server import serve_in_thread
from tally.errors import PlatformResponseError
from tally.settings import Settings


def test_the_spec_describes_the_credential_form() -> None:
    spec = meta_ads.SPEC
    fields = {field.name: field for field in spec.credential_fields()}
    assert (spec.id, spec.display_name, spec.icon, spec.lookback_days) == ("meta_ads", "Meta Ads", "meta", 28)
    assert set(fields) == {"access_token", "ad_account_id"}
    assert fields["access_token"].secret and not fields["ad_account_id"].secret
    assert all(field.required and field.help_text for field in fields.values())


@pytest.mark.parametrize("given", ["123456", "act_123456", "  act_123456 "])
def test_the_ad_account_id_is_kept_as_digits(given: str) -> None:
    creds = meta_ads.MetaAdsCredentials(access_token=" s3cr3t ", ad_account_id=given)
    assert (creds.account_id(), creds.account_node) == ("123456", "act_123456")
    assert "s3cr3t" not in repr(creds) and creds.secret_values() == ["s3cr3t"]


@pytest.mark.parametrize(
    "raw",
    [
        {"access_token": "t", "ad_account_id": "act_"},
        {"access_token": "t", "ad_account_id": "act_12a"},
        {"access_token": "t", "ad_account_id": "https://evil.example/act_1"},
        {"access_token": "", "ad_account_id": "123"},
        {"access_token": "t", "ad_account_id": "123", "app_secret": "x"},
    ],
)
def test_credentials_refuse_a_non_digit_account_an_empty_token_and_extra_fields(raw: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        meta_ads.MetaAdsCredentials.model_validate(raw)


def response(status: int, body: Any = None) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = json.dumps(body).encode()
    return made


def meta_error(code: int, subcode: int | None = None) -> dict[str, Any]:
    error = {"message": "Why.", "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    return {"error": error | ({"error_subcode": subcode} if subcode else {})}


@pytest.mark.parametrize(
    ("status", "body", "error", "auth", "retry"),
    [
        (200, {"data": []}, None, False, False),
        (400, meta_error(190, 463), "Why. (code 190, subcode 463)", True, False),
        (400, meta_error(190, 460), "Why. (code 190, subcode 460)", True, False),
        (403, meta_error(200), "Why. (code 200)", True, False),
        (400, meta_error(17, 2446079), "Why. (code 17, subcode 2446079)", False, True),
        (403, meta_error(613, 1487742), "Why. (code 613, subcode 1487742)", False, True),
        (400, meta_error(80004, 2446079), "Why. (code 80004, subcode 2446079)", False, True),
        (400, meta_error(4), "Why. (code 4)", False, True),
        (500, meta_error(2), "Why. (code 2)", False, True),
        (400, meta_error(100), "Why. (code 100)", False, False),
        (502, None, None, False, True),
    ],
)
def test_errors_are_read_from_metas_envelope_and_throttles_retried_whatever_the_status(
    status: int, body: Any, error: str | None, auth: bool, retry: bool
) -> None:
    made = response(status, body)
    assert read_error(made, body) == error
    assert (is_auth_error(made, body), is_retryable(made, body)) == (auth, retry)


def next_page(settings: Settings, next_url: str) -> str | None:
    paginator = GraphNextPage(meta_http(settings, meta_ads.MetaAdsCredentials(access_token="t", ad_account_id="1")))
    paginator.update_state(response(200, {"data": [{}], "paging": {"next": next_url}}))
    return paginator._next_reference


def test_a_token_meta_echoes_into_paging_next_is_dropped(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, meta_ads_base_url="https://graph.facebook.com")
    followed = next_page(
        settings, "https://graph.facebook.com/v23.0/act_1/insights?access_token=EAAB123&limit=500&after=MjQZD"
    )
    assert followed == "https://graph.facebook.com/v23.0/act_1/insights?limit=500&after=MjQZD"


def test_a_next_page_on_another_host_is_refused(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, meta_ads_base_url="https://graph.facebook.com")
    with pytest.raises(PlatformResponseError, match="paging.next points at another host"):
        next_page(settings, "https://collector.example/v23.0/act_1/insights?after=MjQZD")


THROTTLES = {400: meta_error(17, 2446079), 403: meta_error(613, 1487742)}


@pytest.fixture()
def throttling_graph() -> Iterator[tuple[str, dict[str, int]]]:
    """A stand-in Graph API whose ad account node throttles ``remaining[status]`` times with that status first."""
    app, remaining = FastAPI(), {"status": 0, "left": 0}

    @app.get("/{version}/act_{account_id}")
    def account(account_id: str) -> JSONResponse:
        if remaining["left"]:
            remaining["left"] -= 1
            return JSONResponse(THROTTLES[remaining["status"]], status_code=remaining["status"])
        node = {"id": f"act_{account_id}", "account_id": account_id, "name": "N", "currency": "USD"}
        return JSONResponse(node | {"timezone_name": "Europe/London", "account_status": 1})

    @app.get("/{version}/me/permissions")
    def permissions() -> JSONResponse:
        return JSONResponse({"data": [{"permission": "ads_read", "status": "granted"}]})

    with serve_in_thread(app) as url:
        yield url, remaining


@pytest.mark.parametrize(("status", "times", "success"), [(400, 2, True), (403, 2, True), (400, 9, False)])
def test_throttles_sent_as_400_or_403_are_retried_and_named_when_they_last(
    tmp_path: Path, throttling_graph: tuple[str, dict[str, int]], status: int, times: int, success: bool
) -> None:
    url, remaining = throttling_graph
    remaining.update(status=status, left=times)
    settings = Settings(
        _env_file=None, data_dir=tmp_path, meta_ads_base_url=url, http_backoff_factor=0.01, http_max_attempts=4
    )
    result = meta_ads.test_connection(meta_ads.MetaAdsCredentials(access_token="t", ad_account_id="9"), settings)
    assert result.success is success
    if not success:
        assert result.error == "Meta Ads: rate limited after retries: Why. (code 17, subcode 2446079)"
    assert remaining["left"] == (0 if success else times - settings.http_max_attempts)


def test_a_reason_that_echoes_the_token_is_scrubbed(tmp_path: Path) -> None:
    token = "EAABsbCS1iHgBAKZCZC"
    http = meta_http(
        Settings(_env_file=None, data_dir=tmp_path), meta_ads.MetaAdsCredentials(access_token=token, ad_account_id="1")
    )
    error = http.error(PlatformResponseError, f"Malformed access token {token}")
    assert error.message == "Meta Ads: Malformed access token [redacted]"
