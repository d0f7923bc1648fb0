"""Query results as JSON: dates as ISO strings, decimals as numbers, as the model reads them and the app stores them."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any


def to_json(value: Any) -> str:
    """Compact JSON of query results: dates as ISO strings, decimals as numbers."""
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def json_values(value: Any) -> Any:
    """``value`` as plain JSON values (dates as ISO strings, decimals as numbers), as insights and QBRs store it."""
    return json.loads(to_json(value))


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
