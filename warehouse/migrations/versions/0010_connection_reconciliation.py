"""Connections remember how their last load reconciled with the platform's own account-level totals.

``reconciled`` is true when every metric agreed within the tolerance, false when one did not, null when no
load has been reconciled yet (or the platform could not be asked); ``reconciliation_gap`` holds the largest gap.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("reconciled", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("reconciliation_gap", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("reconciliation_gap")
        batch.drop_column("reconciled")
