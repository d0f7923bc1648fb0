"""A QBR keeps its sources: each read behind its summary, with the rows the summary quotes and the freshness of
the data read, and the numbers of the summary no read returned. Reviews stored before have neither (null).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("qbrs") as batch:
        batch.add_column(sa.Column("sources", sa.JSON, nullable=True))
        batch.add_column(sa.Column("unsourced_numbers", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("qbrs") as batch:
        batch.drop_column("unsourced_numbers")
        batch.drop_column("sources")
