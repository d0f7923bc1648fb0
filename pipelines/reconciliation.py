"""Each platform's own account-level totals over a range of local days, asked in that platform's own way, for
the reconciliation checks (``orchestration/checks.py``) that compare them with the rows Tally loaded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from pipelines.ga4 import reconciliation as ga4
from pipelines.google_ads import reconciliation as google_ads
from pipelines.meta_ads import reconciliation as meta_ads
from pipelines.shopify import reconciliation as shopify
from pipelines.tiktok_ads import reconciliation as tiktok_ads
from tally.settings import Settings

AccountTotals = Callable[[Any, date, date, Settings], dict[str, Decimal]]
ACCOUNT_TOTALS: dict[str, AccountTotals] = {
    "meta_ads": meta_ads.account_totals,
    "google_ads": google_ads.account_totals,
    "tiktok_ads": tiktok_ads.account_totals,
    "shopify": shopify.account_totals,
    "ga4": ga4.account_totals,
}
