"""Field types the response models share."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints


def _as_utc(value: datetime) -> datetime:
    """Every time is written in UTC; SQLite hands it back without the zone, so it is put back."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# An RFC 3339 date-time with its offset, as the OpenAPI ``date-time`` format requires, on SQLite as on PostgreSQL.
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]


def _printable(value: str, allowed: str) -> str:
    """``value`` unless it holds a control character (bar ``allowed``) or a lone surrogate, which no database stores."""
    for character in value:
        if unicodedata.category(character) in ("Cc", "Cs") and character not in allowed:
            raise ValueError(f"must not contain control characters (found U+{ord(character):04X})")
    return value


# The same rule in the OpenAPI document, as ECMA-262 patterns (a pattern cannot name lone surrogates; the check does).
NO_CONTROL = r"^[^\u0000-\u001f\u007f-\u009f]*$"
NO_CONTROL_BUT_LINES = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"

# Names and questions are shown in the product and sent to the model: any other Unicode text is kept as given.
DisplayName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(lambda value: _printable(value, "")),
    Field(json_schema_extra={"pattern": NO_CONTROL}),
]
Question = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(lambda value: _printable(value, "\t\n\r")),
    Field(json_schema_extra={"pattern": NO_CONTROL_BUT_LINES}),
]
