"""Where a secret could end up, searched: files, every text of a database, the Dagster instance.

Each function returns the places a secret was found (empty when none), so a failing assertion says where.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import sqlalchemy as sa
from dlt.common.versioned_state import decompress_state

# The one column allowed to hold a credential, and only encrypted.
ENCRYPTED_COLUMN = ("connections", "credentials_encrypted")


def files_holding(root: Path, secrets: list[str]) -> list[str]:
    """Files under ``root`` whose bytes contain a secret."""
    if not root.exists():
        return []
    needles = [secret.encode() for secret in secrets]
    return [
        str(path)
        for path in root.rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    ]


def duckdb_text_hits(path: Path, secrets: list[str]) -> list[str]:
    """``schema.table.column`` of every DuckDB value that, read as text, contains a secret."""
    with duckdb.connect(str(path), read_only=True) as db:
        columns = db.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database()"
        ).fetchall()
        hits = []
        for schema, table, column in columns:
            for secret in secrets:
                found = db.execute(
                    f'select count(*) from "{schema}"."{table}" where cast("{column}" as varchar) like ?',
                    [f"%{secret}%"],
                ).fetchone()
                if found and found[0]:
                    hits.append(f"{schema}.{table}.{column}")
    return hits


def sql_text_hits(url: str, secrets: list[str], skip: tuple[str, str] | None = None) -> list[str]:
    """``schema.table.column`` of every value in a SQLite or PostgreSQL database that, as text, holds a secret."""
    engine = sa.create_engine(url)
    hits = []
    try:
        inspector = sa.inspect(engine)
        schemas = [None] if engine.dialect.name == "sqlite" else inspector.get_schema_names()
        with engine.connect() as db:
            for schema in schemas:
                if schema in ("information_schema", "pg_catalog", "pg_toast"):
                    continue
                for table in inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema):
                    columns = [c["name"] for c in inspector.get_columns(table, schema=schema)]
                    hits += _table_hits(db, schema, table, [c for c in columns if (table, c) != skip], secrets)
    finally:
        engine.dispose()
    return hits


def _table_hits(db: sa.Connection, schema: str | None, table: str, columns: list[str], secrets: list[str]) -> list[str]:
    reflected = sa.Table(table, sa.MetaData(), *[sa.Column(c) for c in columns], schema=schema)
    hits = []
    for column in columns:
        text = sa.cast(reflected.c[column], sa.Text)
        for secret in secrets:
            count = db.execute(sa.select(sa.func.count()).where(text.contains(secret, autoescape=True))).scalar()
            if count:
                hits.append(f"{schema or 'main'}.{table}.{column}")
    return hits


def dlt_states(engine_url: str | None, duckdb_path: Path) -> dict[str, str]:
    """Every pipeline state dlt stored in the warehouse (compressed there, so a text search cannot see into it),
    decompressed, by ``schema.load_id``."""
    query = "select table_schema from information_schema.tables where table_name = '_dlt_pipeline_state'"
    if engine_url:
        engine = sa.create_engine(engine_url)
        with engine.connect() as db:
            schemas = db.execute(sa.text(query)).scalars().all()
            rows = [(schema, *row) for schema in schemas for row in db.execute(sa.text(_states_of(schema))).all()]
        engine.dispose()
    else:
        with duckdb.connect(str(duckdb_path), read_only=True) as db:
            schemas = [schema for (schema,) in db.execute(query).fetchall()]
            rows = [(schema, *row) for schema in schemas for row in db.execute(_states_of(schema)).fetchall()]
    return {f"{schema}.{load_id}": json.dumps(decompress_state(state)) for schema, load_id, state in rows}


def _states_of(schema: str) -> str:
    return f'select _dlt_load_id, state from "{schema}"."_dlt_pipeline_state"'


def dagster_hits(instance: dg.DagsterInstance, secrets: list[str]) -> list[str]:
    """Runs whose config, tags or event log hold a secret, and files of the instance's storage that do."""
    hits = []
    for run in instance.get_runs():
        texts = {
            "run_config": json.dumps(run.run_config, default=str),
            "tags": json.dumps(run.tags),
            "event_log": "\n".join(str(record) for record in instance.all_logs(run.run_id)),
        }
        hits += [f"run {run.run_id} {place}" for place, text in texts.items() for s in secrets if s in text]
    for backfill in instance.get_backfills():
        hits += [f"backfill {backfill.backfill_id}" for s in secrets if s in str(backfill)]
    return hits + files_holding(Path(instance.root_directory), secrets)
