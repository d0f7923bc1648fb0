"""A rollup read in another currency: its marts read through the conversion models of ``sql/conversions/``.

A rollup names the marts it reads in its ``from`` clauses (``from metric_daily``). Asked for a currency, each
mart that has a conversion model is read through it instead: ``from (<sql/conversions/metric_daily.sql>) as
metric_daily``, whose rows are the mart's with every amount converted into ``:currency`` at its day's reference
rate. So one rollup file holds the maths in both cases, and without a currency the rollup runs exactly as
written. The substitution is one pass over the rollup's text (the inserted model's own ``from metric_daily``
is the mart itself), with line comments dropped first so that no comment can swallow the inserted lines.
"""

from __future__ import annotations

import re
from functools import cache

from warehouse.models import SQL_DIR, model_sql

# The marts with a conversion model: sql/conversions/<mart>.sql.
CONVERTED_MARTS = tuple(sorted(path.stem for path in (SQL_DIR / "conversions").glob("*.sql")))
CONVERTED_REFERENCE = re.compile(rf"\bfrom ({'|'.join(CONVERTED_MARTS)})\b")
LINE_COMMENT = re.compile(r"--[^\n]*")


@cache
def conversion_sql(mart: str) -> str:
    """The conversion model of one mart, without its comments."""
    return LINE_COMMENT.sub("", model_sql("conversions", f"{mart}.sql"))


@cache
def converted_sql(sql: str) -> str:
    """A rollup's text with each converted mart it reads replaced by that mart's conversion model."""
    return CONVERTED_REFERENCE.sub(
        lambda match: f"from (\n{conversion_sql(match[1])}\n) as {match[1]}", LINE_COMMENT.sub("", sql)
    )
