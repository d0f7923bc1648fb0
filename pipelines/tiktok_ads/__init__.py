"""TikTok Ads: an advertiser's daily campaign metrics and its campaigns, from the Business API v1.3.

- ``credentials.TikTokAdsCredentials``: an advertiser access token and the advertiser id
- ``client.test_connection``: ``advertiser/info/`` (name, currency, time zone)
- ``source.source``: the ``campaign_daily`` and ``campaigns`` tables
"""

from __future__ import annotations

from pipelines.base import PlatformSpec, RawTable
from pipelines.tiktok_ads.client import test_connection
from pipelines.tiktok_ads.credentials import TikTokAdsCredentials
from pipelines.tiktok_ads.settings import DISPLAY_NAME, ICON, LOOKBACK_DAYS, PLATFORM
from pipelines.tiktok_ads.source import source

SPEC = PlatformSpec(
    id=PLATFORM,
    display_name=DISPLAY_NAME,
    icon=ICON,
    help_text="Daily campaign spend, delivery and purchases of one TikTok advertiser, from a TikTok for Business "
    "developer app's access token authorised by the advertiser.",
    credentials_model=TikTokAdsCredentials,
    test_connection=test_connection,
    source=source,
    kind="ads",
    lookback_days=LOOKBACK_DAYS,
    raw_tables=(
        RawTable("campaign_daily", "TikTok Ads integrated report, one row per campaign per local day."),
        RawTable("campaigns", "TikTok Ads campaigns: name, status, objective, budget and budget mode."),
    ),
)

__all__ = ["SPEC", "TikTokAdsCredentials", "source", "test_connection"]
