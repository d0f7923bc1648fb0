"""Google Analytics 4: a property's daily sessions, key events and revenue, from the Data API v1beta.

- ``credentials.GA4Credentials``: the property id and a service account's JSON key or an OAuth refresh token
- ``client.test_connection``: a token, then the Admin API's property (name, currency, time zone)
- ``source.source``: the ``traffic_daily`` table
"""

from __future__ import annotations

from pipelines.base import PlatformSpec, RawTable
from pipelines.ga4.client import test_connection
from pipelines.ga4.credentials import GA4Credentials
from pipelines.ga4.settings import DISPLAY_NAME, ICON, KIND, LOOKBACK_DAYS, NEEDED_SCOPES, PLATFORM
from pipelines.ga4.source import source

SPEC = PlatformSpec(
    id=PLATFORM,
    display_name=DISPLAY_NAME,
    icon=ICON,
    help_text="Daily sessions, key events and revenue of one GA4 property per session campaign and source/medium, "
    "read with a service account added to the property as a Viewer, or with an OAuth refresh token.",
    credentials_model=GA4Credentials,
    test_connection=test_connection,
    source=source,
    kind=KIND,
    lookback_days=LOOKBACK_DAYS,
    needed_scopes=NEEDED_SCOPES,
    raw_tables=(
        RawTable("traffic_daily", "GA4 sessions, key events and revenue per day, session campaign and source/medium."),
    ),
)

__all__ = ["SPEC", "GA4Credentials", "source", "test_connection"]
