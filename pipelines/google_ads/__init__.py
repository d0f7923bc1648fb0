"""Google Ads: a customer's daily campaign metrics and its campaigns, from the Google Ads API (REST, GAQL).

- ``credentials.GoogleAdsCredentials``: developer token, OAuth client and refresh token, customer id and
  optional manager (login) customer id
- ``client.test_connection``: an access token from the refresh token, then the ``customer`` resource (name,
  currency, time zone); scopes from the token response
- ``source.source``: the ``campaign_daily`` and ``campaigns`` tables
"""

from __future__ import annotations

from pipelines.base import PlatformSpec, RawTable
from pipelines.google_ads.client import test_connection
from pipelines.google_ads.credentials import GoogleAdsCredentials
from pipelines.google_ads.settings import DISPLAY_NAME, ICON, LOOKBACK_DAYS, NEEDED_SCOPES, PLATFORM
from pipelines.google_ads.source import source

SPEC = PlatformSpec(
    id=PLATFORM,
    display_name=DISPLAY_NAME,
    icon=ICON,
    help_text="Daily campaign cost, delivery and conversions of one Google Ads customer account, read with your "
    "developer token and an OAuth refresh token of a user who can see the account (through its manager "
    "account, if you give the manager's customer id).",
    credentials_model=GoogleAdsCredentials,
    test_connection=test_connection,
    source=source,
    kind="ads",
    lookback_days=LOOKBACK_DAYS,
    needed_scopes=NEEDED_SCOPES,
    raw_tables=(
        RawTable("campaign_daily", "Google Ads campaign metrics per local day (GAQL), money in micros."),
        RawTable("campaigns", "Google Ads campaigns: name, status, channel type, daily budget in micros."),
    ),
)

__all__ = ["SPEC", "GoogleAdsCredentials", "source", "test_connection"]
