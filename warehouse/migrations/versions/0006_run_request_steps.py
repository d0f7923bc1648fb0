"""Run requests become one Dagster run each, with one step row per platform and one for the marts.

The steps are written by the run that does them (each writer updates its own row, so nothing read-modifies a
shared JSON document), and by the sensor when a run ends without a result. One active sync per company: a second
sync while one is pending or running is merged into it.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE_SYNC = "kind = 'sync' AND status IN ('pending', 'running')"


def upgrade() -> None:
    with op.batch_alter_table("run_requests") as batch:
        batch.drop_column("dagster_backfill_ids")
        batch.drop_column("progress")
        batch.add_column(sa.Column("dagster_run_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "uq_run_requests_one_active_sync",
        "run_requests",
        ["company_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE_SYNC),
        postgresql_where=sa.text(ACTIVE_SYNC),
    )
    op.create_table(
        "run_request_steps",
        sa.Column("request_id", sa.String(36), sa.ForeignKey("run_requests.id"), primary_key=True),
        sa.Column("step", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.Column("end_date", sa.Date, nullable=True),
        sa.Column("partitions_done", sa.Integer, nullable=False),
        sa.Column("partitions_total", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_request_steps")
    op.drop_index("uq_run_requests_one_active_sync", table_name="run_requests")
    with op.batch_alter_table("run_requests") as batch:
        batch.drop_column("launched_at")
        batch.drop_column("dagster_run_id")
        batch.add_column(sa.Column("progress", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("dagster_backfill_ids", sa.JSON, nullable=False, server_default="[]"))
