"""The platform registry's answers the rest of Tally builds on: each platform's sync lookback."""

from __future__ import annotations

import pytest

from pipelines.registry import PLATFORMS, lookback_days
from tally.errors import ConfigurationError, InvalidPlatform
from tally.settings import Settings

# DESIGN.md section 4: Meta 28 days, Google Ads 30, TikTok 28, Shopify 7, GA4 3.
DEFAULT_LOOKBACKS = {"meta_ads": 28, "google_ads": 30, "tiktok_ads": 28, "shopify": 7, "ga4": 3}


def settings_from_environment(monkeypatch: pytest.MonkeyPatch, lookbacks: str | None) -> Settings:
    """Settings read the way a deployment reads them, with ``TALLY_LOOKBACK_DAYS`` set to ``lookbacks``."""
    if lookbacks is None:
        monkeypatch.delenv("TALLY_LOOKBACK_DAYS", raising=False)
    else:
        monkeypatch.setenv("TALLY_LOOKBACK_DAYS", lookbacks)
    return Settings(_env_file=None)


def test_every_platform_has_its_own_lookback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_environment(monkeypatch, None)
    assert {platform: lookback_days(settings, platform) for platform in PLATFORMS} == DEFAULT_LOOKBACKS


def test_overriding_one_platform_keeps_the_others_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_environment(monkeypatch, '{"ga4": 5}')
    lookbacks = {platform: lookback_days(settings, platform) for platform in PLATFORMS}
    assert lookbacks == {"meta_ads": 28, "google_ads": 30, "tiktok_ads": 28, "shopify": 7, "ga4": 5}


def test_an_unknown_platform_has_no_lookback(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_environment(monkeypatch, None)
    with pytest.raises(InvalidPlatform, match="expected one of meta_ads"):
        lookback_days(settings, "myspace_ads")


def test_an_override_for_an_unknown_platform_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt platform would otherwise leave that platform's lookback at its default without a word."""
    settings = settings_from_environment(monkeypatch, '{"google": 45}')
    with pytest.raises(ConfigurationError, match="TALLY_LOOKBACK_DAYS names an unknown platform: google"):
        lookback_days(settings, "google_ads")


@pytest.mark.parametrize("days", ["0", "-3"])
def test_a_lookback_of_no_days_is_refused(monkeypatch: pytest.MonkeyPatch, days: str) -> None:
    with pytest.raises(ValueError, match="lookback_days.ga4"):
        settings_from_environment(monkeypatch, '{"ga4": ' + days + "}")
