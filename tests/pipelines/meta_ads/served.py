"""What the Meta emulator serves, recomputed from synthetic.py, for the tests to compare loads against."""

from __future__ import annotations

from datetime import date

from pipelines.emulator import synthetic

PLATFORM = "meta_ads"
START, END = date(2025, 1, 1), date(2025, 3, 31)  # 90 days of fixed history: the data is a function of the date

Delivery = tuple[synthetic.Campaign, date, synthetic.DayMetrics]


def delivered(account_id: str, first: date, last: date) -> list[Delivery]:
    """The campaign-days with delivery in first..last: the rows Meta's daily insights list."""
    return [
        (campaign, day, metrics)
        for day in synthetic.days(first, last)
        for campaign in synthetic.campaigns(PLATFORM, account_id)
        if (metrics := synthetic.campaign_day(PLATFORM, account_id, campaign, day)) and metrics.impressions
    ]
