"""The values a results query may name, checked once for the API's routes and the assistant's tools alike.

They live below both so the assistant, which the Dagster insight asset also imports, needs nothing of ``api``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tally.errors import InvalidRequest
from warehouse.results import ADDITIVE_METRICS, today

# The campaign columns /results/campaigns sorts by: the ad platforms' additive metrics, then derived ones.
SORT_COLUMNS = (*ADDITIVE_METRICS[:6], "frequency", "roas", "cpa", "cpm", "ctr", "campaign_name")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The first place on Earth where a day begins: a date later than today there is in the future everywhere.
EARLIEST_TIME_ZONE = ZoneInfo("Etc/GMT-14")
# No platform has data from before it, and it keeps every period's date arithmetic (a year's prior period, a
# review's six months back) far inside the calendar that Python and the databases can represent.
EARLIEST_DAY = date(2000, 1, 1)


def parse_period_end(value: str | None) -> date:
    """A ``YYYY-MM-DD`` date from 2000-01-01 up to a day that is not in the future anywhere; today when absent."""
    return parse_day("period_end", value)


def parse_day(name: str, value: str | None) -> date:
    """The day a query names as ``name``, with the bounds of ``period_end``; today when absent."""
    if value is None:
        return today()
    try:
        if not ISO_DATE.match(value):
            raise ValueError(value)
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date as YYYY-MM-DD") from None
    if parsed < EARLIEST_DAY:
        raise InvalidRequest(f"{name} must not be before {EARLIEST_DAY.isoformat()}")
    if parsed > datetime.now(EARLIEST_TIME_ZONE).date():
        raise InvalidRequest(f"{name} must not be in the future")
    return parsed
