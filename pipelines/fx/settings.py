"""Constants of the ECB reference rates source: where the files are, what they are called, how far back to keep."""

from __future__ import annotations

SOURCE = "fx"
DISPLAY_NAME = "European Central Bank"
# The warehouse dataset (schema) of the rates, as every raw dataset is named: raw_<source>.
DATASET = "raw_fx"
TABLE = "reference_rates"
PIPELINE_NAME = "fx__ecb"

RATES_PATH = "stats/eurofxref"
DAILY_FILE = "eurofxref-daily.xml"
HISTORY_FILE = "eurofxref-hist.xml"
# The namespace of the Cube elements in the eurofxref files.
EUROFXREF_NAMESPACE = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"

# A first load keeps the history from this many days before TALLY_HISTORY_START: the first days of the
# partitions may be a weekend or holiday, whose rate is the last one published before.
HISTORY_MARGIN_DAYS = 14
