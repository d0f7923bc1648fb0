"""What the Google Ads emulator serves, recomputed from synthetic.py, for the tests to compare loads against."""

from __future__ import annotations

from datetime import date

from pipelines.google_ads import GoogleAdsCredentials
from tests.pipelines.loading import Delivery, campaign_days

PLATFORM = "google_ads"
START, END = date(2025, 1, 1), date(2025, 3, 31)  # 90 days of fixed history: the data is a function of the date
MICROS = 1_000_000


def delivered(customer_id: str, first: date, last: date) -> list[Delivery]:
    """The campaign-days in first..last with any metric above zero: the rows a segmented report lists."""
    return campaign_days(
        PLATFORM,
        customer_id,
        first,
        last,
        lambda metrics: metrics.spend or metrics.impressions or metrics.clicks or metrics.conversions,
    )


def cost_micros(rows: list[Delivery]) -> int:
    """The cost of the rows in micros, as the API reports it (``costMicros`` per row)."""
    return sum(int(metrics.spend * MICROS) for _, _, metrics in rows)


def replaced(credentials: GoogleAdsCredentials, **changes: str | None) -> GoogleAdsCredentials:
    """The credentials with some fields changed, validated again (``model_copy`` would skip the validators)."""
    return GoogleAdsCredentials.model_validate({**credentials.plain(), **changes})
