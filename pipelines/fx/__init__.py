"""The European Central Bank's euro foreign exchange reference rates: the ``fx`` source, not a client platform.

Every conversion of the results routes (``?currency=``) goes through the euro at these rates, day by day.

- ``client.fetch_rates``: one eurofxref XML file as a frame of date, currency and rate
- ``source.source``: the ``reference_rates`` table of ``raw_fx``
- ``loading.rates_pipeline``: the dlt pipeline that loads it into the warehouse
"""

from __future__ import annotations

from pipelines.fx.loading import rates_pipeline
from pipelines.fx.settings import DATASET, TABLE
from pipelines.fx.source import source

RAW_TABLES = {TABLE: "The ECB's euro reference rates: units of each currency per euro, per publication day."}

__all__ = ["DATASET", "RAW_TABLES", "TABLE", "rates_pipeline", "source"]
