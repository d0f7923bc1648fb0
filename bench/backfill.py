"""Orchestration overhead: a 90-day backfill of N clients x 3 ad platforms through Dagster, against dlt alone.

Through Dagster: the API's outbox rows are turned into backfills by the real run_requests sensor, and each
single-run backfill is executed in-process on a Dagster instance with the real platform assets (what the backfill
daemon launches). Baseline: the same clients, platforms and days loaded by calling the dlt sources directly.
Both write their own DuckDB file from the same emulator in the same process.

    .venv/bin/python bench/backfill.py [--clients 5] [--days 90]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.resources import TallyResource  # noqa: E402
from pipelines.emulator import synthetic  # noqa: E402
from pipelines.emulator.accounts import emulator_credentials  # noqa: E402
from pipelines.emulator.app import create_emulator  # noqa: E402
from pipelines.loading import platform_pipeline  # noqa: E402
from pipelines.registry import get_platform  # noqa: E402
from tally.background_server import serve_in_thread  # noqa: E402
from tests.orchestration.conftest import run_backfill, store_emulated_connection, tick  # noqa: E402
from warehouse import run_requests as outbox  # noqa: E402
from warehouse.app_database import upgrade  # noqa: E402
from warehouse.vault import CredentialVault, generate_key  # noqa: E402

PLATFORMS = ["meta_ads", "google_ads", "tiktok_ads"]


def seed_connections(tally: TallyResource, clients: int, days: int) -> None:
    """One connection per client and platform, and one backfill request per client."""
    vault = CredentialVault.from_settings(tally.settings)
    with tally.app_engine().begin() as db:
        for index in range(clients):
            company = f"client{index:03d}"
            for platform in PLATFORMS:
                store_emulated_connection(db, vault, company, platform, seed=index + 1)
            outbox.create_request(db, company, "backfill", PLATFORMS, "bench", days=days)


def through_dagster(tally: TallyResource) -> tuple[float, int]:
    """Seconds for the sensor and every backfill run; runs launched."""
    with dg.instance_for_test() as instance:
        started = time.perf_counter()
        requests = tick(instance, tally).run_requests
        for request in requests:
            if not run_backfill(instance, tally, request):
                raise SystemExit(f"a run failed: {request.tags}")
        tick(instance, tally)
        return time.perf_counter() - started, len(instance.get_runs())


def with_dlt_alone(tally: TallyResource, data_dir: Path, clients: int, days: int) -> float:
    """Seconds to load the same windows by calling the dlt sources directly."""
    settings = tally.settings.model_copy(update={"data_dir": data_dir})
    started = time.perf_counter()
    for index in range(clients):
        for platform in PLATFORMS:
            spec = get_platform(platform)
            credentials = spec.credentials_model.model_validate(emulator_credentials(platform, index + 1))
            timezone = synthetic.account(platform, credentials.account_id()).timezone
            end = datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)
            platform_pipeline(platform, f"client{index:03d}", settings).run(
                spec.source(
                    credentials,
                    start_date=end - timedelta(days=days - 1),
                    end_date=end,
                    company_id=f"client{index:03d}",
                    settings=settings,
                )
            )
    return time.perf_counter() - started


def rows_in(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as db:
        return sum(db.execute(f'select count(*) from raw_{p}."campaign_daily"').fetchone()[0] for p in PLATFORMS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    os.environ.setdefault("TALLY_ENCRYPTION_KEYS", generate_key())
    with tempfile.TemporaryDirectory() as scratch, serve_in_thread(create_emulator()) as emulator_url:
        root = Path(scratch)
        upgrade(f"sqlite:///{root / 'app.db'}")
        tally = TallyResource(
            data_dir=str(root / "dagster"),
            app_database_url=f"sqlite:///{root / 'app.db'}",
            platform_base_url=emulator_url,
        )
        seed_connections(tally, args.clients, args.days)
        dagster_s, runs = through_dagster(tally)
        dagster_rows = rows_in(tally.settings.duckdb_path)
        direct_s = with_dlt_alone(tally, root / "direct", args.clients, args.days)
        direct_rows = rows_in(root / "direct" / "warehouse.duckdb")
    print(f"{args.clients} clients x {len(PLATFORMS)} ad platforms x {args.days} days")
    print(
        f"through Dagster: {dagster_s:7.2f} s  {runs} runs  {dagster_rows} rows  {dagster_rows / dagster_s:8.0f} rows/s"
    )
    print(f"dlt alone:       {direct_s:7.2f} s  {'':>6}  {direct_rows} rows  {direct_rows / direct_s:8.0f} rows/s")
    print(f"orchestration overhead: {dagster_s / direct_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
