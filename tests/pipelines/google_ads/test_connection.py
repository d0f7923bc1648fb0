"""The Google Ads connection test, against the emulator's token endpoint and googleAds:search over loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import requests

from pipelines import google_ads
from pipelines.emulator import synthetic
from pipelines.google_ads import GoogleAdsCredentials
from pipelines.google_ads.client import api_client, google_ads_http, read_customer
from pipelines.google_oauth import AccessToken
from tally.errors import PlatformAuthError
from tally.settings import Settings
from tests.pipelines.google_ads.served import replaced

ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
INVALID_GRANT = "Google Ads: Google refused the credentials (invalid_grant: Token has been expired or revoked.)"


def test_good_credentials_report_the_customer_its_currency_and_time_zone(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    result = google_ads.test_connection(credentials, settings)

    account = synthetic.account("google_ads", credentials.customer_id)
    assert result.success and result.error is None
    assert (result.account_id, result.display_name) == (credentials.customer_id, account.name)
    assert (result.currency, result.timezone) == (account.currency, account.timezone)
    assert result.scopes == [ADWORDS_SCOPE]
    assert result.token_expires_at is None  # the access token's hour is not the credential's: each load refreshes


def test_a_refresh_token_granted_for_a_limited_time_gives_its_expiry_and_the_scopes_granted(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    plan = {"token_expires_in_days": 5, "missing_scopes": [ADWORDS_SCOPE]}
    emulator.put(f"/_emulator/faults/google_oauth/{credentials.client_id}", json=plan).raise_for_status()

    result = google_ads.test_connection(credentials, settings)

    assert result.success and result.scopes == []
    assert result.token_expires_at is not None
    left = result.token_expires_at - datetime.now(UTC)
    assert timedelta(days=5) - timedelta(minutes=1) < left <= timedelta(days=5)


@pytest.mark.parametrize("refresh_token", ["expired-refresh-0001", "revoked-refresh-0001"])
def test_an_expired_or_revoked_refresh_token_fails_with_google_s_reason(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials, refresh_token: str
) -> None:
    refused = replaced(credentials, refresh_token=refresh_token)

    result = google_ads.test_connection(refused, settings)

    assert not result.success
    assert result.error == INVALID_GRANT
    assert emulator.get(f"/_emulator/requests/google_ads/{credentials.customer_id}").json()["requests"] == 0


def test_an_access_token_revoked_by_google_ads_fails_with_its_error_code(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    emulator.put(f"/_emulator/faults/google_ads/{credentials.customer_id}", json={"revoke_after": 0})

    result = google_ads.test_connection(credentials, settings)

    assert not result.success
    assert result.error == "Google Ads: The OAuth access token is revoked. (OAUTH_TOKEN_REVOKED)"


def test_an_expired_access_token_is_an_auth_error_naming_google_ads_and_the_cause(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    token = AccessToken("expired-ya29.access-0001", [ADWORDS_SCOPE], 3599)
    http = google_ads_http(settings, credentials)

    with pytest.raises(PlatformAuthError) as refused:
        read_customer(http, api_client(http, credentials, token), credentials.customer_id)

    assert refused.value.message == "Google Ads: The OAuth access token has expired. (OAUTH_TOKEN_EXPIRED)"
    assert token.token not in refused.value.message


def test_a_client_account_needs_its_manager_s_id(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    client_account = replaced(credentials, customer_id="9" + credentials.customer_id[1:])

    refused = google_ads.test_connection(client_account, settings)
    through_manager = google_ads.test_connection(replaced(client_account, login_customer_id="111-222-3334"), settings)

    assert not refused.success
    assert refused.error is not None and refused.error.startswith("Google Ads: User doesn't have permission")
    assert refused.error.endswith("(USER_PERMISSION_DENIED)") and "login-customer-id" in refused.error
    assert through_manager.success and through_manager.account_id == client_account.customer_id


def test_a_throttled_connection_test_is_retried(
    emulator: httpx.Client, settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    emulator.put(
        f"/_emulator/faults/google_ads/{credentials.customer_id}", json={"rate_limit": 1, "retry_after_seconds": 0}
    )

    assert google_ads.test_connection(credentials, settings).success
    assert emulator.get(f"/_emulator/requests/google_ads/{credentials.customer_id}").json()["requests"] == 2


def test_a_developer_token_quoted_back_by_google_is_scrubbed_from_the_error(
    settings: Settings, credentials: GoogleAdsCredentials
) -> None:
    token = credentials.developer_token.get_secret_value()
    failure = {
        "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
        "errors": [
            {
                "errorCode": {"authorizationError": "DEVELOPER_TOKEN_PROHIBITED"},
                "message": f"Developer token '{token}' is not allowed with project '123'.",
            }
        ],
    }
    response = requests.Response()
    response.status_code = 403
    response._content = json.dumps(
        {"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED",
                   "details": [failure]}}
    ).encode()  # fmt: skip

    with pytest.raises(PlatformAuthError) as refused:
        google_ads_http(settings, credentials).check(response)

    assert token not in refused.value.message
    assert refused.value.message == (
        "Google Ads: Developer token '[redacted]' is not allowed with project '123'. (DEVELOPER_TOKEN_PROHIBITED)"
    )
