"""The TikTok Ads connection test against the emulator over loopback HTTP."""

from __future__ import annotations

import httpx
import pytest

from pipelines import tiktok_ads
from pipelines.emulator import synthetic
from tally.settings import Settings
from tests.pipelines.loading import requests_made

THROTTLED = "Too many requests. Please retry in some time."
REVOKED = "TikTok Ads: Access token is incorrect or has been revoked. (code 40105)"


def credentials(advertiser_id: str, token: str = "tt-token") -> tiktok_ads.TikTokAdsCredentials:
    return tiktok_ads.TikTokAdsCredentials(access_token=token, advertiser_id=advertiser_id)


def test_good_credentials_give_the_advertiser_name_currency_and_time_zone(
    emulator: httpx.Client, settings: Settings, advertiser_id: str
) -> None:
    result = tiktok_ads.test_connection(credentials(advertiser_id), settings)

    account = synthetic.account("tiktok_ads", advertiser_id)
    assert result.success and result.error is None
    assert (result.account_id, result.display_name) == (advertiser_id, account.name)
    assert (result.currency, result.timezone) == (account.currency, account.timezone)
    assert requests_made(emulator, "tiktok_ads", advertiser_id) == 1


@pytest.mark.parametrize("token", ["expired-tt-token", "revoked-tt-token"])
def test_an_expired_or_revoked_token_fails_with_tiktoks_own_reason(
    emulator: httpx.Client, settings: Settings, advertiser_id: str, token: str
) -> None:
    result = tiktok_ads.test_connection(credentials(advertiser_id, token), settings)
    assert not result.success
    assert result.error == REVOKED
    assert result.account_id is None


@pytest.mark.parametrize("fault", [{"rate_limit": 2, "retry_after_seconds": 1}, {"server_error": 2}])
def test_throttles_and_server_errors_are_retried(
    emulator: httpx.Client, settings: Settings, advertiser_id: str, fault: dict[str, int]
) -> None:
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json=fault)
    assert tiktok_ads.test_connection(credentials(advertiser_id), settings).success
    assert requests_made(emulator, "tiktok_ads", advertiser_id) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"rate_limit": 9}, f"TikTok Ads: rate limited after retries: {THROTTLED} (code 40100)"),
        # The emulator's server errors alternate; the fourth and last attempt meets the gateway's own 500.
        ({"server_error": 9}, "TikTok Ads: server error after retries: HTTP 500"),
    ],
)
def test_retries_give_up_after_the_configured_attempts_naming_the_cause(
    emulator: httpx.Client, settings: Settings, advertiser_id: str, fault: dict[str, int], error: str
) -> None:
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json=fault)
    result = tiktok_ads.test_connection(credentials(advertiser_id), settings)
    assert (result.success, result.error) == (False, error)
    assert requests_made(emulator, "tiktok_ads", advertiser_id) == settings.http_max_attempts
