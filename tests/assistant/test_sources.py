"""How a text's numbers are read and matched to the rows of the reads behind it, on texts and rows written here."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.quoted_numbers import quoted_numbers
from assistant.sources import Read, cite

MARCH = {"type": "month", "start": "2024-03-01", "end": "2024-03-31"}


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Spend was USD 1,234.50, up +12.5% (from 1097.3).", ["1,234.50", "+12.5%", "1097.3"]),
        ("It fell -3% and \u22124.0% on 2024-03-15, and 7.", ["-3%", "\u22124.0%", "7"]),
        ("From March 1 to Mar 10th, and 15 March, in Q1 2024.", ["2024"]),
        ("Campaigns m1 and g1 ran on v23.0; $480.75 in total.", ["480.75"]),
    ],
    ids=["separators-and-percent", "signs-and-iso-date", "calendar", "names-and-currency-sign"],
)
def test_numbers_are_read_as_written_and_dates_are_not_numbers(text: str, numbers: list[str]) -> None:
    assert [number.text for number in quoted_numbers(text)] == numbers


def test_a_number_reads_as_a_value_rounded_to_the_decimals_it_shows() -> None:
    two_decimals, one_decimal, whole = quoted_numbers("2.58 and 55.2% and 481")
    assert two_decimals.stands_for(2.58333) and not two_decimals.stands_for(2.59)
    assert one_decimal.stands_for(-55.1724) and one_decimal.stands_for(55.25)  # a half rounds either way
    assert whole.stands_for(480.75) and not whole.stands_for(479.4)
    assert whole.magnitude == Decimal(481)


def test_rows_holding_the_texts_numbers_or_names_are_its_figures() -> None:
    campaigns = Read(
        tool="top_campaigns",
        arguments={"period_type": "month", "period_end": "2024-03-31", "limit": 2},
        period=MARCH,
        tables={
            "campaigns": [
                {"campaign_id": "m1", "campaign_name": "Spring Sale 2", "spend": 310.0, "roas": 3.0},
                {"campaign_id": "g1", "campaign_name": "Brand", "spend": 50.0, "roas": 0.0},
                # A name that reads as a number is no label: it would hide the number 5 of the text.
                {"campaign_id": "5", "campaign_name": "7", "spend": 12.0, "roas": None},
            ]
        },
    )
    text = '"Spring Sale 2" spent USD 310.00 at a ROAS of 3.0 in March 2024, Brand USD 5 a day, 2 campaigns; 99.'

    citation = cite(text, [campaigns])

    [source] = citation.sources
    assert [(figure["values"]["campaign_id"], figure["quoted"]) for figure in source["figures"]] == [
        ("m1", ["310.00", "3.0", "Spring Sale 2"]),
        ("g1", ["Brand"]),
    ]
    # 2024 is the period's year, 2 the limit the tool was asked for; 5 and 99 no row holds.
    assert citation.unsourced_numbers == ["5", "99"]
