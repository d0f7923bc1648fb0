"""Goals: a company's target per metric and period type, for goal tracking on GET /results.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("company_id", sa.String(64), primary_key=True),
        sa.Column("metric_key", sa.String(32), primary_key=True),
        sa.Column("period_type", sa.String(16), primary_key=True),
        sa.Column("target", sa.Float, nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("goals")
