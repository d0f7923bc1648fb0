"""Where a platform source is loaded: one dlt pipeline per (platform, company), one raw dataset per platform.

Each (platform, company) has its own pipeline name and a working folder under ``TALLY_DATA_DIR``, so two
runs never share dlt state (DESIGN.md section 4). Raw tables land in ``raw_<platform>``.
"""

from __future__ import annotations

import re
from pathlib import Path

import dlt
import polars as pl
import pyarrow as pa
from dlt.common.destination import Destination
from dlt.common.schema.typing import TWriteDispositionConfig
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from sqlalchemy.engine import make_url

from tally.settings import Settings

# What a raw metrics table merges on: a load replaces every row of the (company, day)s it brings.
DAILY_SLICE_KEY = ("company_id", "date")
# Every raw table merges by deleting the rows of the merge key's values the load brings, then inserting.
REPLACE_DAYS: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert"}
SAFE_NAME = re.compile(r"[^a-z0-9_]+")


def keyed_arrow(frame: pl.DataFrame, keys: tuple[str, ...]) -> pa.Table:
    """The frame as Arrow with its key columns marked not-null, as dlt's schema has them (else dlt warns per page)."""
    table = frame.to_arrow()
    return table.cast(pa.schema([field.with_nullable(field.name not in keys) for field in table.schema]))


def account_columns(company_id: str, account_id: str, currency: str, timezone: str) -> list[pl.Expr]:
    """The company and account columns every raw row carries, first in each table."""
    return [
        pl.lit(company_id).alias("company_id"),
        pl.lit(account_id).alias("account_id"),
        pl.lit(currency).alias("currency"),
        pl.lit(timezone).alias("account_timezone"),
    ]


def raw_dataset(platform: str) -> str:
    """The warehouse schema (dataset) that holds a platform's raw tables."""
    return f"raw_{platform}"


def pipeline_name(platform: str, company_id: str) -> str:
    """A dlt pipeline name unique to one platform and company, safe as a folder name."""
    return SAFE_NAME.sub("_", f"{platform}__{company_id}".lower())


def warehouse_destination(settings: Settings) -> Destination:
    """The warehouse as a dlt destination: PostgreSQL when configured, else the DuckDB file."""
    if settings.warehouse_url:
        return dlt.destinations.postgres(postgres_credentials(settings.warehouse_url))
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.destinations.duckdb(str(settings.duckdb_path))


def postgres_credentials(url: str) -> PostgresCredentials:
    """dlt credentials from a SQLAlchemy-style URL, which may name a driver and, with trust auth, no password.

    dlt insists on a password field and a bare ``postgresql`` scheme; an empty password is what trust or peer
    authentication needs.
    """
    parsed = make_url(url)
    credentials = PostgresCredentials()
    credentials.parse_native_representation(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
    credentials.password = parsed.password or ""
    return credentials


def platform_pipeline(
    platform: str, company_id: str, settings: Settings, working_dir: Path | None = None
) -> dlt.Pipeline:
    """The dlt pipeline that loads one company's data from one platform into the warehouse."""
    # Arrow tables skip dlt's row normaliser, which otherwise stamps each row with its load id; runs need the
    # stamp to tell rows this load wrote from rows of days the platform no longer returns.
    dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
    pipelines_dir = working_dir or settings.data_dir / "dlt"
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=pipeline_name(platform, company_id),
        pipelines_dir=str(pipelines_dir.resolve()),
        destination=warehouse_destination(settings),
        dataset_name=raw_dataset(platform),
    )
