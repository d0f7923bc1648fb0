"""The Meta Ads connection test against the emulator over loopback HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pipelines import meta_ads
from pipelines.emulator import synthetic
from tally.settings import Settings
from tests.pipelines.loading import requests_made

THROTTLED = (
    "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. For more info, please "
    "refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management. "
    "(code 80004, subcode 2446079)"
)


def credentials(ad_account_id: str, token: str = "meta-token") -> meta_ads.MetaAdsCredentials:
    return meta_ads.MetaAdsCredentials(access_token=token, ad_account_id=ad_account_id)


@pytest.mark.parametrize("given", ["{id}", "act_{id}", " act_{id} "])
def test_good_credentials_give_the_account_name_currency_time_zone_and_scopes(
    emulator: httpx.Client, settings: Settings, ad_account_id: str, given: str
) -> None:
    result = meta_ads.test_connection(credentials(given.format(id=ad_account_id)), settings)

    account = synthetic.account("meta_ads", ad_account_id)
    assert result.success and result.error is None
    assert (result.account_id, result.display_name) == (ad_account_id, account.name)
    assert (result.currency, result.timezone) == (account.currency, account.timezone)
    assert result.scopes == ["ads_read", "business_management"]
    assert result.token_expires_at is None  # a system user's token: debug_token's expires_at is 0
    # me/permissions and debug_token
    assert (requests_made(emulator, "meta_ads", ad_account_id), requests_made(emulator, "meta_ads", "me")) == (1, 2)


def test_debug_token_gives_a_user_token_s_expiry_and_a_declined_permission_is_not_a_scope(
    emulator: httpx.Client, settings: Settings, ad_account_id: str
) -> None:
    plan = {"token_expires_in_days": 5, "missing_scopes": ["ads_read"]}
    emulator.put("/_emulator/faults/meta_ads/me", json=plan).raise_for_status()

    result = meta_ads.test_connection(credentials(ad_account_id), settings)

    assert result.success and result.scopes == ["business_management"]
    assert result.token_expires_at is not None
    left = result.token_expires_at - datetime.now(UTC)
    assert timedelta(days=5) - timedelta(minutes=1) < left <= timedelta(days=5)


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (
            "expired-meta-token",
            r"Meta Ads: Error validating access token: Session has expired on .+\. \(code 190, subcode 463\)",
        ),
        (
            "revoked-meta-token",
            r"Meta Ads: Error validating access token: The session has been invalidated because the user changed "
            r"their password or Facebook has changed the session for security reasons\. \(code 190, subcode 460\)",
        ),
    ],
)
def test_an_expired_or_revoked_token_fails_with_metas_own_reason(
    emulator: httpx.Client, settings: Settings, ad_account_id: str, token: str, error: str
) -> None:
    result = meta_ads.test_connection(credentials(ad_account_id, token), settings)
    assert not result.success and result.account_id is None
    assert result.error is not None
    assert re.fullmatch(error, result.error)
    assert token not in result.error


@pytest.mark.parametrize("fault", [{"rate_limit": 2, "retry_after_seconds": 1}, {"server_error": 2}])
def test_throttles_and_server_errors_are_retried(
    emulator: httpx.Client, settings: Settings, ad_account_id: str, fault: dict[str, int]
) -> None:
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json=fault)
    assert meta_ads.test_connection(credentials(ad_account_id), settings).success
    assert requests_made(emulator, "meta_ads", ad_account_id) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"rate_limit": 9, "retry_after_seconds": 0}, f"Meta Ads: rate limited after retries: {THROTTLED}"),
        (
            {"server_error": 9},
            "Meta Ads: server error after retries: An unexpected error has occurred. Please retry your request "
            "later. (code 2)",
        ),
    ],
)
def test_retries_give_up_after_the_configured_attempts_naming_the_cause(
    emulator: httpx.Client, settings: Settings, ad_account_id: str, fault: dict[str, int], error: str
) -> None:
    emulator.put(f"/_emulator/faults/meta_ads/{ad_account_id}", json=fault)
    result = meta_ads.test_connection(credentials(ad_account_id), settings)
    assert (result.success, result.error) == (False, error)
    assert requests_made(emulator, "meta_ads", ad_account_id) == settings.http_max_attempts
