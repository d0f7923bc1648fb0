"""Meta Ads: an ad account's daily campaign insights and its campaigns, from the Marketing API (Graph API).

- ``credentials.MetaAdsCredentials``: an access token with ``ads_read`` and the ad account id
- ``client.test_connection``: the ad account node (name, currency, time zone), ``me/permissions`` (scopes) and
  ``debug_token`` (expiry)
- ``source.source``: the ``campaign_daily`` and ``campaigns`` tables
"""

from __future__ import annotations

from pipelines.base import PlatformSpec, RawTable
from pipelines.meta_ads.client import test_connection
from pipelines.meta_ads.credentials import MetaAdsCredentials
from pipelines.meta_ads.settings import DISPLAY_NAME, ICON, LOOKBACK_DAYS, NEEDED_SCOPES, PLATFORM
from pipelines.meta_ads.source import source

SPEC = PlatformSpec(
    id=PLATFORM,
    display_name=DISPLAY_NAME,
    icon=ICON,
    help_text="Daily campaign spend, delivery and purchases of one Meta (Facebook and Instagram) ad account, read "
    "with a Marketing API access token that has ads_read, ideally a Business Manager system user's.",
    credentials_model=MetaAdsCredentials,
    test_connection=test_connection,
    source=source,
    kind="ads",
    lookback_days=LOOKBACK_DAYS,
    needed_scopes=NEEDED_SCOPES,
    raw_tables=(
        RawTable(
            "campaign_daily", "Meta Ads insights, one row per campaign per local day, as the Graph API sends them."
        ),
        RawTable("campaigns", "Meta Ads campaigns: name, status, objective, budgets in minor units."),
    ),
)

__all__ = ["SPEC", "MetaAdsCredentials", "source", "test_connection"]
