"""Whether a results request can be converted into the currency it asks for, checked before any rollup converts.

Two questions, both answered by rollups over the published rates (``sql/rollups/currencies.sql``,
``sql/rollups/fx_gaps.sql``): is the code one the rates quote, and does every amount of the period (and its prior
period) have a rate on its day. A no to either is the caller's to fix (another code, another period), so each is
an ``InvalidRequest`` (400) whose message says what is possible.
"""

from __future__ import annotations

from typing import Any

from tally.errors import InvalidRequest
from warehouse.serving import MartSession


def available_currencies(session: MartSession) -> list[str]:
    """The currencies of the latest reference rates loaded, the euro included; empty before the first load."""
    return [row["currency"] for row in session.rows("currencies")]


def check_conversion(session: MartSession, company_id: str, currency: str, bounds: dict[str, Any]) -> None:
    """Raise ``InvalidRequest`` unless every amount of the company in ``bounds`` (a period's ``period_start``,
    ``period_end``, ``prior_start`` and ``prior_end``) converts into ``currency``."""
    available = available_currencies(session)
    if not available:
        raise InvalidRequest("currency cannot be converted yet: no exchange rates are loaded")
    if currency not in available:
        raise InvalidRequest(f"currency must be one of: {', '.join(available)}")
    gaps = session.rows("fx_gaps", company_id=company_id, currency=currency, **bounds)
    if gaps:
        days = "; ".join(
            f"{gap['currency']} on {gap['days']} days from {gap['first_day']} to {gap['last_day']}" for gap in gaps
        )
        raise InvalidRequest(f"amounts cannot be converted into {currency} without a reference rate: {days}")
