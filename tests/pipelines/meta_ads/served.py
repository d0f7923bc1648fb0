"""What the Meta emulator serves, recomputed from synthetic.py, for the tests to compare loads against."""

from __future__ import annotations

from datetime import date

from tests.pipelines.loading import Delivery, campaign_days

PLATFORM = "meta_ads"
START, END = date(2025, 1, 1), date(2025, 3, 31)  # 90 days of fixed history: the data is a function of the date


def delivered(account_id: str, first: date, last: date) -> list[Delivery]:
    """The campaign-days with delivery in first..last: the rows Meta's daily insights list."""
    return campaign_days(PLATFORM, account_id, first, last, lambda metrics: metrics.impressions)
