"""The revision log: what a re-pull changed in a day's numbers, found by comparing in SQL what a load replaced
with what it wrote.

A load of one client's days captures that client's rows of those days (``sql/revisions/day_values.sql``) into
``revisions.day_values`` before it writes, captures them again after, and lets ``sql/revisions/revisions.sql``
append the differences to ``marts.revision_log``, all inside the load's step. Both captures read only that
client's days of one platform, so the cost of a re-pull's revisions is that client's rows, not the warehouse's.
The same captures give the campaign rows' totals the reconciliation checks compare with the platform's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from tally.settings import Settings
from warehouse.models import (
    LOG_TABLES,
    STAGING_MODELS,
    Warehouse,
    create_schemas,
    execute,
    lock_models,
    model_sql,
    query,
    raw_tables,
    staging_sql,
    warehouse_transaction,
    write_rows,
)


@dataclass(frozen=True)
class LoadRevisions:
    """What one load changed: the revisions it logged, the campaign rows' totals per metric it left, and the days
    it left exactly as they were (``sql/revisions/unchanged_days.sql``)."""

    revisions: int
    totals: dict[str, Decimal] = field(default_factory=dict)
    unchanged_days: frozenset[date] = frozenset()


@dataclass
class RevisionCapture:
    """One load's capture of a client's days of a platform: taken before the load, compared after it."""

    settings: Settings
    company_id: str
    platform: str
    start: date
    end: date
    snapshot_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def params(self) -> dict[str, object]:
        return {
            "snapshot_id": self.snapshot_id,
            "company_id": self.company_id,
            "platform": self.platform,
            "start_date": self.start,
            "end_date": self.end,
        }

    def capture(self, warehouse: Warehouse, phase: str) -> int:
        """Copy the client's current numbers of the days into ``revisions.day_values`` under ``phase``."""
        return write_rows(
            warehouse,
            "insert into revisions.day_values\n"
            f"select :snapshot_id, :phase, values_now.* from (\n{day_values_sql(warehouse)}\n) as values_now",
            self.params | {"phase": phase},
        )

    def before(self) -> None:
        """Capture what the load is about to replace, first dropping what a load of this client and platform that
        died mid-way left behind (one client's loads never overlap: Dagster runs one refresh per client at a
        time), so a killed run leaves no captures for ever."""
        ensure_log_tables(self.settings)
        with warehouse_transaction(self.settings) as warehouse:
            execute(
                warehouse,
                "delete from revisions.day_values where company_id = :company_id and platform = :platform",
                self.params,
            )
            self.capture(warehouse, "before")

    def after(self, seen_at: datetime | None = None) -> LoadRevisions:
        """Capture what the load wrote, log the differences and return them with the new totals."""
        seen = (seen_at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        with warehouse_transaction(self.settings) as warehouse:
            self.capture(warehouse, "after")
            logged = write_rows(
                warehouse,
                f"insert into marts.revision_log\nselect * from (\n{model_sql('revisions', 'revisions.sql')}\n)"
                " as revisions",
                {"snapshot_id": self.snapshot_id, "seen_at": seen},
            )
            snapshot = {"snapshot_id": self.snapshot_id}
            totals = query(warehouse, model_sql("revisions", "load_totals.sql"), snapshot)
            unchanged = query(warehouse, model_sql("revisions", "unchanged_days.sql"), snapshot)
        return LoadRevisions(
            logged,
            {metric: Decimal(str(total)) for metric, total in totals},
            frozenset(day for (day,) in unchanged),
        )

    def discard(self) -> None:
        """Remove this load's captures (after the comparison, or when the load failed)."""
        with warehouse_transaction(self.settings) as warehouse:
            execute(warehouse, "delete from revisions.day_values where snapshot_id = :snapshot_id", self.params)


def day_values_sql(warehouse: Warehouse) -> str:
    """``day_values.sql`` reading each staging model's own SQL inline (its empty stand-in while its raw table is
    missing) rather than the staging views: a load neither waits for nor races the DDL that replaces a view."""
    sql = model_sql("revisions", "day_values.sql")
    loaded = raw_tables(warehouse)
    for model in STAGING_MODELS:
        sql = sql.replace(f"staging.{model.name}", f"(\n{staging_sql(model, loaded)}\n) as {model.name}")
    return sql


def ensure_log_tables(settings: Settings) -> None:
    """Create the revision log and the captures' table when missing, in a transaction of their own under the
    models' exclusive lock (two first loads at once on PostgreSQL would otherwise race the ``create``)."""
    with warehouse_transaction(settings) as warehouse:
        present = set(
            query(
                warehouse,
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('marts', 'revisions')",
            )
        )
        if all(table in present for table in LOG_TABLES):
            return
        lock_models(warehouse, exclusive=True)
        create_schemas(warehouse)


@contextmanager
def revision_capture(
    settings: Settings, company_id: str, platform: str, start: date, end: date
) -> Iterator[RevisionCapture]:
    """Capture the client's days before the body loads them; the body calls ``after()`` once the load is
    written. The captures are removed however the body ends."""
    capture = RevisionCapture(settings, company_id, platform, start, end)
    capture.before()
    try:
        yield capture
    finally:
        capture.discard()
