"""Connections remember their health: when the token expires, the needed scopes it lacks, and what the platform
last said of its call budget, as found by the latest connection test or load.

``health`` is JSON ``{token_expires_at, missing_scopes, rate_limit, checked_at}`` (never a credential), null until
a test or load has checked it. A connection whose health needs attention has the status ``warning``, which the
existing status column holds as it holds ``active`` and ``error``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("health", sa.JSON, nullable=True))


def downgrade() -> None:
    op.execute("UPDATE connections SET status = 'active' WHERE status = 'warning'")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("health")
