"""Where a platform source is loaded: one dlt pipeline per (platform, company), one raw dataset per platform.

Each (platform, company) has its own pipeline name and a working folder under ``TALLY_DATA_DIR``, so two
runs never share dlt state (DESIGN.md section 4). Raw tables land in ``raw_<platform>``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

import dlt
import polars as pl
import pyarrow as pa
from dlt.common.destination import Destination
from dlt.common.schema.typing import TWriteDispositionConfig
from sqlalchemy.engine import make_url

from tally.settings import Settings

# What a raw metrics table merges on: a load replaces every row of the (company, day)s it brings.
DAILY_SLICE_KEY = ("company_id", "date")
# Every raw table merges by deleting the rows of the merge key's values the load brings, then inserting.
REPLACE_DAYS: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert"}
SAFE_NAME = re.compile(r"[^a-z0-9_]+")
# Arrow tables skip dlt's row normaliser, which otherwise stamps each row with its load id; runs need the stamp to
# tell rows this load wrote from rows of days the platform no longer returns.
STAMP_LOAD_IDS = "normalize.parquet_normalizer.add_dlt_load_id"
# dlt's config is one document per process; a refresh builds its platforms' pipelines from several threads at
# once, and two first writes of the same key race inside it (tomlkit: KeyAlreadyPresent).
_CONFIG_WRITE = threading.Lock()


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


def warehouse_destination(settings: Settings, staging_suffix: str | None = None) -> Destination:
    """The warehouse as a dlt destination: PostgreSQL when configured, else the DuckDB file.

    dlt stages a merge in ``<dataset>_staging``, shared by every pipeline of the dataset, and its merge reads
    the whole staging table (dlt-hub/dlt#4297): two clients of one platform loading at once on PostgreSQL would
    merge each other's rows. ``staging_suffix`` gives each pipeline a staging schema of its own.
    """
    if settings.warehouse_url:
        layout = f"%s_staging_{staging_suffix}" if staging_suffix else "%s_staging"
        return dlt.destinations.postgres(postgres_url(settings.warehouse_url), staging_dataset_name_layout=layout)
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.destinations.duckdb(str(settings.duckdb_path))


def postgres_url(url: str) -> str:
    """A connection string dlt takes, from a SQLAlchemy-style URL, which may name a driver and, with trust auth,
    no password: dlt wants a bare ``postgresql`` scheme and a password field, which may be empty."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql", password=parsed.password or "").render_as_string(hide_password=False)


def staging_suffix(company_id: str) -> str:
    """A short schema-name suffix unique to one company (its readable start plus a hash: ids differ in case)."""
    digest = hashlib.sha1(company_id.encode()).hexdigest()[:8]
    return f"{SAFE_NAME.sub('_', company_id.lower())[:20]}_{digest}"


def platform_pipeline(
    platform: str, company_id: str, settings: Settings, working_dir: Path | None = None
) -> dlt.Pipeline:
    """The dlt pipeline that loads one company's data from one platform into the warehouse."""
    with _CONFIG_WRITE:
        if dlt.config.get(STAMP_LOAD_IDS) is not True:
            dlt.config[STAMP_LOAD_IDS] = True
    pipelines_dir = working_dir or settings.data_dir / "dlt"
    pipelines_dir.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=pipeline_name(platform, company_id),
        pipelines_dir=str(pipelines_dir.resolve()),
        destination=warehouse_destination(settings, staging_suffix=staging_suffix(company_id)),
        dataset_name=raw_dataset(platform),
    )
