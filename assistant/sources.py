"""An answer's sources: what each read behind it (a tool call, or a read of a QBR's figures) asked for, which of
the rows it returned the answer's text quotes, and how fresh the data it read was.

A row is quoted when it holds a number of the text (read with the decimals the text shows) or a label of it (a
campaign's name or id, an insight's text). A number of the text that no row holds is listed as unsourced, so a
reader sees at once whether every figure of the answer can be checked; the prompts ask the model for none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from assistant.json_values import json_values
from assistant.quoted_numbers import QuotedNumber, quoted_numbers, without_labels

# The fields of a row that name it, so that the text quoting them uses the row (and their digits are no figures).
LABEL_FIELDS = ("campaign_name", "campaign_id", "text")
# A label that reads as a small number ("5") would hide that number wherever the text quotes it: not a label.
NUMBER_LIKE = re.compile(r"[\d.,]{1,5}")


@dataclass(frozen=True)
class Read:
    """One read behind an answer: the tool, its arguments, the period and platforms it covered, the metric it was
    about (None for all of them), its rows by table, the freshness of what it read, or the error it gave."""

    tool: str
    arguments: dict[str, Any]
    period: dict[str, Any] | None = None
    prior_period: dict[str, Any] | None = None
    platforms: list[str] = field(default_factory=list)
    metric: str | None = None
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    freshness: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Citation:
    """The sources of a text, and the numbers of it that none of them holds."""

    sources: list[dict[str, Any]]
    unsourced_numbers: list[str]


def cite(text: str, reads: list[Read]) -> Citation:
    """Each read with the rows ``text`` quotes, as JSON values, and the numbers of ``text`` no row holds."""
    labels = [row[name] for read in reads for row in rows_of(read) for name in LABEL_FIELDS if label(row, name)]
    rest, labels_found = without_labels(text, labels)
    numbers = quoted_numbers(rest)
    sourced: set[int] = set()
    sources = []
    for read in reads:
        figures = []
        for table, rows in read.tables.items():
            for row in rows:
                held = [n for n, number in enumerate(numbers) if any_value_is(row, number)]
                names = [row[name] for name in LABEL_FIELDS if label(row, name) and row[name] in labels_found]
                if held or names:
                    quoted = list(dict.fromkeys([numbers[n].text for n in held] + names))
                    figures.append({"table": table, "values": row, "quoted": quoted})
                    sourced.update(held)
        sourced.update(n for n, number in enumerate(numbers) if any_value_is(read.arguments, number))
        sources.append(source(read, figures))
    years = {int(day[:4]) for read in reads for day in period_days(read)}
    unsourced = [
        number.text
        for n, number in enumerate(numbers)
        if n not in sourced and not (number.could_be_year and int(number.magnitude) in years)
    ]
    return Citation(json_values(sources), unsourced)


def source(read: Read, figures: list[dict[str, Any]]) -> dict[str, Any]:
    """A read as an answer's source shows it."""
    return {
        "tool": read.tool,
        "arguments": read.arguments,
        "period": read.period,
        "prior_period": read.prior_period,
        "platforms": read.platforms,
        "metric": read.metric,
        "figures": figures,
        "freshness": read.freshness,
        "error": read.error,
    }


def rows_of(read: Read) -> list[dict[str, Any]]:
    return [row for rows in read.tables.values() for row in rows]


def label(row: dict[str, Any], name: str) -> bool:
    """Whether the row's field ``name`` is a label the text may quote."""
    value = row.get(name)
    return isinstance(value, str) and bool(value.strip()) and not NUMBER_LIKE.fullmatch(value.strip())


def any_value_is(values: dict[str, Any], number: QuotedNumber) -> bool:
    """Whether one of the numeric values (a row's fields, a read's arguments) reads as ``number``."""
    return any(
        isinstance(value, int | float) and not isinstance(value, bool) and number.stands_for(value)
        for value in values.values()
    )


def period_days(read: Read) -> list[str]:
    """The first and last days of the read's periods, as ISO text."""
    days = []
    for period in (read.period, read.prior_period):
        if period:
            days += [str(period[key]) for key in ("start", "end") if isinstance(period.get(key), str | date)]
    return days
