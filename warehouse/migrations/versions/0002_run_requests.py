"""The run_requests outbox: sync and backfill requests waiting for, or followed through, Dagster.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE_BACKFILL = "kind = 'backfill' AND status IN ('pending', 'running')"


def upgrade() -> None:
    op.create_table(
        "run_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("days", sa.Integer, nullable=True),
        sa.Column("platforms", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=True),
        sa.Column("dagster_backfill_ids", sa.JSON, nullable=False),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_run_requests_status", "run_requests", ["status"])
    op.create_index("ix_run_requests_company_id", "run_requests", ["company_id"])
    op.create_index(
        "uq_run_requests_one_active_backfill",
        "run_requests",
        ["company_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE_BACKFILL),
        postgresql_where=sa.text(ACTIVE_BACKFILL),
    )


def downgrade() -> None:
    op.drop_index("uq_run_requests_one_active_backfill", table_name="run_requests")
    op.drop_index("ix_run_requests_company_id", table_name="run_requests")
    op.drop_index("ix_run_requests_status", table_name="run_requests")
    op.drop_table("run_requests")
