"""Each company's change counter (``company_changes``, bumped by the triggers of migration 0009): one read tells
whether any of its connections, goals, insights or run requests changed since an answer was remembered."""

from __future__ import annotations

import sqlalchemy as sa

# Plain SQL with a bound parameter: compiled once by the driver, a few tens of microseconds per read.
VERSION = sa.text("select version from company_changes where company_id = :company_id")


def company_version(db: sa.Connection, company_id: str) -> int:
    """The company's change count: it grows with every write to its app-database rows (0 before any)."""
    return int(db.execute(VERSION, {"company_id": company_id}).scalar() or 0)
