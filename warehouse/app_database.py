"""The app database engine and its migrations: SQLite in WAL mode by default, PostgreSQL by URL.

Alembic is imported by the functions that migrate, not by this module: every Dagster run worker, daemon and API
worker imports the engine, and Alembic (with Mako and Pygments) added a fifth of a second to each start.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Connections kept open per engine. A request beyond the pool's size gets an overflow connection that is closed
# when it is returned, so an API serving 16 requests at once on the default 5 opened and closed a SQLite
# connection (and set its pragmas) on most requests: a third of a cached /results' time. 40 is the API's thread
# pool (anyio's default); PostgreSQL keeps fewer per worker, its connections cost the server a process each.
SQLITE_POOL = {"pool_size": 40, "max_overflow": 10}
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 10}


def create_app_engine(url: str) -> sa.Engine:
    """An engine for the app database; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **SQLITE_POOL)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, **POSTGRES_POOL)


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at our migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the app database at ``url`` up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


@cache
def head_revision() -> str | None:
    """The newest migration in ``warehouse/migrations``: what a ready app database is at."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema_problem(engine: sa.Engine) -> str | None:
    """Why the app database cannot serve the API (unreachable, or not migrated to the head), or None.

    Only the error's type is named: a driver's message may carry the database URL and its password.
    """
    try:
        with engine.connect() as db:
            revision = db.execute(sa.text("select version_num from alembic_version")).scalar()
    except sa.exc.SQLAlchemyError as exc:
        return f"does not answer, or has no migrations applied ({type(getattr(exc, 'orig', None) or exc).__name__})"
    head = head_revision()
    if revision != head:
        return f"at migration {revision}, expected {head}: run tally db upgrade"
    return None
