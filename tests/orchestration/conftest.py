"""Dagster in-process against the emulator: a test instance, the Tally resource, and a backfill runner.

``run_backfill`` does what Dagster's backfill daemon does with a single-run backfill: it records the backfill on
the instance and executes its asset subset as one run with the partition-range tags, then marks the backfill
done. The assets, the sensor and the warehouse are the real ones.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
)

from orchestration.assets.raw import raw_assets
from orchestration.definitions import defs
from orchestration.resources import TallyResource
from orchestration.sensors import run_requests_sensor
from pipelines.emulator import synthetic
from pipelines.emulator.accounts import emulator_credentials
from pipelines.registry import get_platform
from tally.settings import Settings
from warehouse import connections as store
from warehouse.app_database import upgrade
from warehouse.vault import CredentialVault, generate_key


@pytest.fixture()
def tally(tmp_path: Path, emulator: Any, emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> TallyResource:
    """The Tally resource on a fresh app database and warehouse, platforms at a reset emulator, quick retries."""
    monkeypatch.setenv("TALLY_ENCRYPTION_KEYS", generate_key())
    for name, value in {
        "HTTP_BACKOFF_FACTOR": "0.01",
        "HTTP_MAX_RETRY_DELAY_SECONDS": "1",
        "HTTP_MAX_ATTEMPTS": "3",
        "HTTP_TIMEOUT_SECONDS": "5",
    }.items():
        monkeypatch.setenv(f"TALLY_{name}", value)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    return TallyResource(data_dir=str(tmp_path / "tally"), app_database_url=url, platform_base_url=emulator_url)


@pytest.fixture()
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


Connect = Callable[..., dict[str, Any]]


def store_emulated_connection(
    db: sa.Connection, vault: CredentialVault, company_id: str, platform: str, seed: int = 1, **overrides: str
) -> dict[str, Any]:
    """Store an active connection of a company to an emulated account, as the API would; returns its row."""
    spec = get_platform(platform)
    credentials = spec.credentials_model.model_validate({**emulator_credentials(platform, seed), **overrides})
    account = synthetic.account(platform, credentials.account_id())
    store.insert_connection(
        db,
        store.NewConnection(
            company_id=company_id,
            platform=platform,
            source="manual",
            connected_by_user_id="test",
            account_id=credentials.account_id(),
            display_name=None,
            store_url=None,
            currency=account.currency,
            timezone=account.timezone,
            scopes=[],
            token_expires_at=None,
            credentials_encrypted=vault.encrypt(credentials.plain()),
        ),
    )
    return store.connected_connection(db, company_id, platform)


@pytest.fixture()
def connect(tally: TallyResource) -> Connect:
    """Store an active connection of a company to an emulated account, as the API would."""

    def make(company_id: str, platform: str, seed: int = 1, **overrides: str) -> dict[str, Any]:
        with tally.app_engine().begin() as db:
            vault = CredentialVault.from_settings(tally.settings)
            return store_emulated_connection(db, vault, company_id, platform, seed, **overrides)

    return make


def backfills(result: dg.SensorResult) -> list[dg.RunRequest]:
    """The backfill run requests of a sensor result (the others rebuild the marts)."""
    return [request for request in result.run_requests or [] if request.asset_graph_subset is not None]


def tick(instance: dg.DagsterInstance, tally: TallyResource) -> dg.SensorResult:
    """One evaluation of the run_requests sensor."""
    context = dg.build_sensor_context(instance=instance, definitions=defs, resources={"tally": tally})
    return run_requests_sensor(context)


def run_backfill(instance: dg.DagsterInstance, tally: TallyResource, request: dg.RunRequest) -> bool:
    """Submit and execute one backfill run request as the daemon would; returns whether its run succeeded."""
    subset = request.asset_graph_subset
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=uuid.uuid4().hex[:8],
        backfill_timestamp=time.time(),
        tags=request.tags,
        dynamic_partitions_store=instance,
        asset_graph_subset=subset,
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    keys = sorted({str(entry.partition_key) for entry in subset.iterate_asset_partitions()})
    result = dg.materialize(
        raw_assets,
        selection=list(subset.asset_keys),
        instance=instance,
        resources={"tally": tally},
        raise_on_error=False,
        tags={
            **request.tags,
            BACKFILL_ID_TAG: backfill.backfill_id,
            ASSET_PARTITION_RANGE_START_TAG: keys[0],
            ASSET_PARTITION_RANGE_END_TAG: keys[-1],
        },
    )
    status = BulkActionStatus.COMPLETED_SUCCESS if result.success else BulkActionStatus.COMPLETED_FAILED
    instance.update_backfill(backfill.with_status(status))
    return result.success


def warehouse_rows(settings: Settings, schema: str, table: str) -> list[tuple[Any, ...]]:
    """Every row of a warehouse table without dlt's load bookkeeping, sorted, for exact comparison."""
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
        columns = [
            name
            for (name,) in db.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "and column_name not in ('_dlt_load_id', '_dlt_id') order by column_name",
                [schema, table],
            ).fetchall()
        ]
        if not columns:
            return []
        listed = ", ".join(f'"{name}"' for name in columns)
        return db.execute(f'select {listed} from {schema}."{table}" order by all').fetchall()


def outbox(tally: TallyResource) -> list[dict[str, Any]]:
    from warehouse.app_tables import run_requests

    with tally.app_engine().connect() as db:
        return [dict(r._mapping) for r in db.execute(sa.select(run_requests).order_by(run_requests.c.created_at))]
