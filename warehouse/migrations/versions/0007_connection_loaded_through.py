"""Connections remember the last local day their loads covered, so results pace goals against days with data.

A day is loaded once a load of it finished, which is not the latest day with rows (a day the platform reported
nothing for has none). Null until a load records it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("loaded_through", sa.Date, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("loaded_through")
