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


def parse_period_end(value: str | None) -> date:
    """A ``YYYY-MM-DD`` date that is not in the future anywhere; today when absent."""
    if value is None:
        return today()
    try:
        if not ISO_DATE.match(value):
            raise ValueError(value)
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest("period_end must be a date as YYYY-MM-DD") from None
    if parsed > datetime.now(EARLIEST_TIME_ZONE).date():
        raise InvalidRequest("period_end must not be in the future")
    return parsed
