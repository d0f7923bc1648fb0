"""Goal tracking: whether a period's value is on track for its target.

Totals (spend, conversions, revenue...) are compared with the target paced to the days the period has data for:
95 conversions over 10 loaded days of a 30-day month against a target of 300 are at 95% of pace. A day not yet
loaded (today, while loads stop at yesterday) is not counted, and before the first loaded day there is no pace.
Spending more than 10% over pace is a risk too. Costs (CPA, CPC, CPM) are better lower; rates (ROAS, CTR) are
compared directly, better higher.
"""

from __future__ import annotations

from typing import Literal

COST_METRICS = ("cpa", "cpc", "cpm")
RATE_METRICS = ("roas", "ctr")
TrackingStatus = Literal["on_track", "at_risk", "off_track"]
AT_RISK_SHORTFALL = 0.9
AT_RISK_EXCESS = 1.1


def tracking_status(
    metric_key: str, value: float | None, target: float, days_with_data: int, period_days: int
) -> TrackingStatus | None:
    """The status of ``value`` against ``target`` with ``days_with_data`` of a ``period_days``-day period loaded."""
    if value is None:
        return None
    if metric_key in COST_METRICS:
        if value <= target:
            return "on_track"
        return "at_risk" if value <= target * AT_RISK_EXCESS else "off_track"
    if metric_key not in RATE_METRICS and days_with_data <= 0:
        return None
    expected = target if metric_key in RATE_METRICS else target * days_with_data / period_days
    share = value / expected
    if metric_key == "spend" and share > AT_RISK_EXCESS:
        return "at_risk"
    if share >= 1:
        return "on_track"
    return "at_risk" if share >= AT_RISK_SHORTFALL else "off_track"
