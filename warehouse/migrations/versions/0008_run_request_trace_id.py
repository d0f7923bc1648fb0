"""Run requests remember the id of the API request that asked for them (its ``X-Request-ID``), which the sensor
puts on the Dagster run as a tag: one id follows a backfill from the API call to its runs.

Null for requests that no API call made (the daily schedule) and for those made before this column.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_requests") as batch:
        batch.add_column(sa.Column("trace_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_requests") as batch:
        batch.drop_column("trace_id")
