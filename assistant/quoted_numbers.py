"""The numbers a text quotes, as a reader sees them: ``USD 1,234.50``, ``+12.5%``, ``2.10``, and what each can stand
for. Dates (``2024-03-01``, ``March 15``, ``Q1``) and labels taken from the data (campaign names) are not numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    "|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
DAY = r"\d{1,2}(?:st|nd|rd|th)?"
# ISO dates, and a day next to a month name ("March 15", "15 March", "Mar 15th, 2024"): calendar, not figures.
CALENDAR = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b(?:{MONTHS})\.?\s+{DAY}\b(?!\.\d)|\b{DAY}\s+(?:{MONTHS})\b",
    re.IGNORECASE,
)
# A number not glued to a word ("Q1", "m1" and "v23" are names): thousands separators, decimals, a percent sign.
NUMBER = re.compile(r"(?<![\w.,])[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])%?")
YEAR = re.compile(r"(?:19|20)\d{2}")


@dataclass(frozen=True)
class QuotedNumber:
    """One number of a text: as written, its magnitude (signs are words in prose: "down 12%") and decimals shown."""

    text: str
    magnitude: Decimal
    decimals: int

    @property
    def could_be_year(self) -> bool:
        return YEAR.fullmatch(self.text) is not None

    def stands_for(self, value: float) -> bool:
        """Whether ``value`` written with this number's decimals (either way of rounding a half) reads as it."""
        half_unit = Decimal(5) * Decimal(10) ** -(self.decimals + 1)
        return abs(abs(Decimal(repr(float(value)))) - self.magnitude) <= half_unit


def without_labels(text: str, labels: list[str]) -> tuple[str, set[str]]:
    """``text`` with every whole occurrence of ``labels`` (longest first) cut out, and the labels it held."""
    found = set()
    for label in sorted(set(labels), key=len, reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(label)}(?!\w)")
        if pattern.search(text):
            found.add(label)
            text = pattern.sub(" ", text)
    return text, found


def quoted_numbers(text: str) -> list[QuotedNumber]:
    """The numbers of ``text`` in order, dates left out."""
    numbers = []
    for match in NUMBER.finditer(CALENDAR.sub(" ", text)):
        written = match.group().rstrip("%").lstrip("+-\u2212")
        digits = written.replace(",", "")
        decimals = len(digits.partition(".")[2])
        numbers.append(QuotedNumber(match.group(), Decimal(digits), decimals))
    return numbers
