"""Insights, QBRs and client profiles (last_qbr_date): what the AI features write.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insights",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("period_type", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_insights_company_generated", "insights", ["company_id", "generated_at"])
    op.create_table(
        "qbrs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("company_id", sa.String(64), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("insight_id", sa.String(36), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_qbrs_company_created", "qbrs", ["company_id", "created_at"])
    op.create_table(
        "client_profiles",
        sa.Column("company_id", sa.String(64), primary_key=True),
        sa.Column("last_qbr_date", sa.Date, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("client_profiles")
    op.drop_index("ix_qbrs_company_created", "qbrs")
    op.drop_table("qbrs")
    op.drop_index("ix_insights_company_generated", "insights")
    op.drop_table("insights")
