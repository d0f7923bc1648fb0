"""Real databases for tests: a fresh SQLite file, or a PostgreSQL database created here and dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

POSTGRES_SERVER_URL = os.environ.get("TALLY_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    """Whether the PostgreSQL server answers; with REQUIRE_POSTGRES=1 a silent server fails the test run."""
    try:
        engine = sa.create_engine(POSTGRES_SERVER_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


def require_postgres() -> None:
    """Skip (or, when REQUIRE_POSTGRES is set, fail) a test that needs PostgreSQL and cannot have it."""
    if postgres_available():
        return
    if os.environ.get("REQUIRE_POSTGRES"):
        pytest.fail(f"REQUIRE_POSTGRES is set but PostgreSQL does not answer at {POSTGRES_SERVER_URL}")
    pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432 (set REQUIRE_POSTGRES=1 to make this a failure)")


@contextmanager
def temporary_postgres_database(prefix: str = "tally_test", template: str | None = None) -> Iterator[str]:
    """Create an empty PostgreSQL database (or a copy of the database at the URL ``template``, which must have no
    open connection), yield its URL, and drop it afterwards."""
    require_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    copy_of = f' TEMPLATE "{sa.engine.make_url(template).database}"' if template else ""
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"{copy_of}'))
    try:
        yield sa.engine.make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def dagster_postgres_storage(url: str) -> dict[str, Any]:
    """The ``storage`` block of a dagster.yaml that keeps the instance in the PostgreSQL database at ``url``."""
    server = sa.engine.make_url(url)
    postgres_db = {
        "username": server.username,
        "password": server.password or "",
        "hostname": server.host,
        "db_name": server.database,
        "port": server.port or 5432,
    }
    return {"storage": {"postgres": {"postgres_db": postgres_db}}}
