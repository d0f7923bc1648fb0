"""A change counter per company, bumped by triggers on every write to the app tables its results read.

The API remembers whole results answers and must see a goal change, a new connection, a load's
``loaded_through`` or a new insight at once, in every worker and whoever wrote it (the API, a Dagster run):
one indexed row per company, read per request, tells it whether anything changed. Triggers, so that no writer
can forget to bump it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The tables a results answer reads, each with a company_id column.
WATCHED = ("connections", "goals", "insights", "run_requests")
OPERATIONS = {"insert": "NEW", "update": "NEW", "delete": "OLD"}

POSTGRES_FUNCTION = """
create function bump_company_change() returns trigger language plpgsql as $$
declare
    changed varchar(64) := case when tg_op = 'DELETE' then old.company_id else new.company_id end;
begin
    insert into company_changes (company_id, version) values (changed, 1)
    on conflict (company_id) do update set version = company_changes.version + 1;
    return null;
end $$
"""


def upgrade() -> None:
    op.create_table(
        "company_changes",
        sa.Column("company_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for table in WATCHED:
            op.execute(
                f"create trigger {table}_company_change after insert or update or delete on {table} "
                "for each row execute function bump_company_change()"
            )
        return
    for table in WATCHED:
        for operation, row in OPERATIONS.items():
            op.execute(
                f"create trigger {table}_company_change_{operation} after {operation} on {table} begin "
                f"insert or ignore into company_changes (company_id, version) values ({row}.company_id, 0); "
                f"update company_changes set version = version + 1 where company_id = {row}.company_id; end"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"drop trigger {table}_company_change on {table}")
        op.execute("drop function bump_company_change()")
    else:
        for table in WATCHED:
            for operation in OPERATIONS:
                op.execute(f"drop trigger {table}_company_change_{operation}")
    op.drop_table("company_changes")
