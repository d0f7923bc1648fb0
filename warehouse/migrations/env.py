"""Alembic environment: runs migrations online against the URL set by ``warehouse.app_database``."""

from __future__ import annotations

from alembic import context

from warehouse.app_database import create_app_engine
from warehouse.app_tables import metadata

config = context.config


def run_migrations_online() -> None:
    """Run every pending migration in one transaction."""
    engine = create_app_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
