"""Ingest speed: 90 days of one account per platform from the emulator into DuckDB, against the Arrow floor.

For each platform it runs the real connector (HTTP to the emulator on loopback, dlt normalise and load into a
DuckDB file) and then inserts the very same rows into a fresh DuckDB file straight from Arrow: the floor any
loader of these rows pays. It prints rows, seconds, rows/s of both and the ratio.

    .venv/bin/python bench/ingest.py [--days 90] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.emulator.accounts import emulator_credentials  # noqa: E402
from pipelines.emulator.app import create_emulator  # noqa: E402
from pipelines.loading import platform_pipeline, raw_dataset  # noqa: E402
from pipelines.registry import PLATFORMS  # noqa: E402
from tally.background_server import serve_in_thread  # noqa: E402
from tally.settings import Settings  # noqa: E402


def load_with_connector(settings: Settings, platform: str, start: date, end: date, seed: int) -> float:
    """Seconds the connector takes to pull and load the range."""
    spec = PLATFORMS[platform]
    credentials = spec.credentials_model.model_validate(emulator_credentials(platform, seed))
    pipeline = platform_pipeline(platform, "bench", settings)
    started = time.perf_counter()
    pipeline.run(spec.source(credentials, start_date=start, end_date=end, company_id="bench", settings=settings))
    return time.perf_counter() - started


def load_from_arrow(settings: Settings, platform: str, scratch: Path) -> tuple[int, float]:
    """Rows the connector loaded, and seconds to insert the same rows into a fresh DuckDB file from Arrow."""
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as source:
        tables = [
            name
            for (name,) in source.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? and table_name not like '_dlt%'",
                [raw_dataset(platform)],
            ).fetchall()
        ]
        arrow = {
            name: source.sql(f'select * from {raw_dataset(platform)}."{name}"').to_arrow_table() for name in tables
        }
    rows = sum(table.num_rows for table in arrow.values())
    floor_path = scratch / f"floor_{platform}.duckdb"
    started = time.perf_counter()
    with duckdb.connect(str(floor_path)) as target:
        for name, table in arrow.items():
            target.register("incoming", table)
            target.execute(f'create table "{name}" as select * from incoming')
            target.unregister("incoming")
    return rows, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    end = date.today() - timedelta(days=1)
    start = end - timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as scratch, serve_in_thread(create_emulator()) as emulator_url:
        settings = Settings(_env_file=None, data_dir=Path(scratch) / "tally").point_platforms_at(emulator_url)
        print(f"{args.days} days ({start} to {end}), one account per platform, emulator at {emulator_url}")
        print(
            f"{'platform':<11} {'rows':>7} {'connector s':>12} {'rows/s':>9} {'arrow s':>8} {'rows/s':>10} {'ratio':>7}"
        )
        for platform in PLATFORMS:
            seconds = load_with_connector(settings, platform, start, end, args.seed)
            rows, floor = load_from_arrow(settings, platform, Path(scratch))
            print(
                f"{platform:<11} {rows:>7} {seconds:>12.2f} {rows / seconds:>9.0f} {floor:>8.3f} "
                f"{rows / floor:>10.0f} {seconds / floor:>6.1f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
