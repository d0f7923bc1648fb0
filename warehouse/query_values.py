"""The values a results query may name, checked once for the API's routes and the assistant's tools alike.

They live below both so the assistant, which the Dagster insight asset also imports, needs nothing of ``api``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tally.errors import InvalidRequest
from warehouse.results import today
from warehouse.serving import rollup_sql

# The branches of sql/rollups/campaigns.sql's sort: ``case :sort_by when '<column>' then ...`` for the numbers,
# ``:sort_by = '<column>'`` for the text.
SORT_CASE = re.compile(r"\bcase\s+:sort_by\b(?P<branches>.*?)\bend\b", re.DOTALL | re.IGNORECASE)
SORT_BRANCH = re.compile(r"\bwhen\s+'(\w+)'\s+then\b", re.IGNORECASE)
SORT_TEXT = re.compile(r":sort_by\s*=\s*'(\w+)'", re.IGNORECASE)


def sort_columns(sql: str) -> tuple[str, ...]:
    """The columns a campaigns rollup sorts by, read from its SQL: the numeric ones in branch order, then text.

    The SQL is where sorting happens, so the route's allowed values come from it and cannot name a column the
    SQL would silently leave unsorted.
    """
    case = SORT_CASE.search(sql)
    numbers = SORT_BRANCH.findall(case["branches"]) if case else []
    columns = (*numbers, *SORT_TEXT.findall(sql))
    if not numbers or len(set(columns)) != len(columns):
        raise ValueError(f"the rollup's sort names no column or one twice: {', '.join(columns) or 'none'}")
    return columns


# The campaign columns /results/campaigns sorts by, as sql/rollups/campaigns.sql's sort CASE names them.
SORT_COLUMNS = sort_columns(rollup_sql("campaigns"))
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
