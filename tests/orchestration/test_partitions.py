"""Raw assets split across shards of clients: each client's days live on its own shard's asset, and the run path,
the sensor and the marts follow it.

The layout is read once, when the definitions are imported (``TALLY_CLIENT_SHARDS``), so the tests that need a
sharded layout run this module again in a fresh process with ``TALLY_CLIENT_SHARDS=4``; in this process they run
with whatever the environment sets (one shard by default), and must pass with both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster_graphql.test.utils import execute_dagster_graphql

from orchestration.assets.marts import mart_asset_key
from orchestration.assets.raw import RAW_TABLES, all_raw_asset_keys, client_raw_asset_key, raw_asset_key, raw_assets
from orchestration.definitions import defs
from orchestration.partitions import CLIENT_SHARDS, client_shard, shard_name
from orchestration.resources import TallyResource
from tests.orchestration.conftest import Connect, run_pending
from warehouse import run_requests as requests_store

REPO = Path(__file__).resolve().parents[2]
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on PythonError { message }
  }
}
"""


@contextmanager
def graphql_context(instance: dg.DagsterInstance) -> Iterator[WorkspaceRequestContext]:
    """The webserver's GraphQL context over the repository's workspace (a code server of the definitions)."""
    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(REPO / "workspace.yaml")])) as process:
        yield process.create_request_context()


COMPANIES = [f"client{index:03d}" for index in range(500)]


def yesterday_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def test_a_clients_shard_is_the_same_in_every_process() -> None:
    """Python's own str hash changes per process; the shard must not, or a client's history would move."""
    script = (
        "from orchestration.partitions import client_shard\n"
        "print([client_shard(f'client{i:03d}', 16) for i in range(500)])"
    )
    shards = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
        for seed in ("1", "2")
    }
    assert len(shards) == 1
    assert shards == {str([client_shard(company, 16) for company in COMPANIES])}


def test_clients_spread_over_every_shard() -> None:
    counts = [0] * 16
    for company in COMPANIES:
        counts[client_shard(company, 16)] += 1
    assert min(counts) >= 15 and max(counts) <= 50, counts


def test_sharded_layout_has_one_asset_per_table_and_shard_and_the_marts_depend_on_all() -> None:
    keys = {key.to_user_string() for key in all_raw_asset_keys(4)}
    assert len(keys) == 4 * sum(len(tables) for tables in RAW_TABLES.values())
    assert {"raw/meta_ads/campaign_daily/clients_0", "raw/meta_ads/campaign_daily/clients_3"} <= keys
    assert {key.to_user_string() for key in all_raw_asset_keys(1)} >= {"raw/meta_ads/campaign_daily"}
    assert shard_name(0, 1) is None and shard_name(7, 16) == "clients_07"

    graph = defs.resolve_asset_graph()
    raw_keys = set(all_raw_asset_keys())
    # The ECB's reference rates (raw/fx/...) are no client's: they are not partitioned, and no client's marts wait.
    assert {key for key in graph.get_all_asset_keys() if key.path[:1] == ["raw"] and key.path[1] != "fx"} == raw_keys
    for name in ("campaign_daily", "metric_daily"):
        assert set(graph.get(mart_asset_key(name)).parent_keys) == raw_keys


def test_a_backfill_materializes_the_clients_days_on_its_own_shard_only(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    meta = connect("acme", "meta_ads")
    with tally.app_engine().begin() as db:
        requests_store.create_request(db, "acme", "backfill", ["meta_ads"], "test", days=30)

    assert run_pending(instance, tally) == [True]

    end = yesterday_in(meta["timezone"])
    expected = {f"acme|{end - timedelta(days=n)}" for n in range(30)}
    for table in RAW_TABLES["meta_ads"]:
        own = client_raw_asset_key("meta_ads", table, "acme")
        assert instance.get_materialized_partitions(own) == expected
        others = [key for key in all_raw_asset_keys() if key != own and key.path[:3] == own.path[:3]]
        assert len(others) == CLIENT_SHARDS - 1
        assert all(not instance.get_materialized_partitions(key) for key in others)
    assert instance.get_materialized_partitions(mart_asset_key("campaign_daily")) == {"acme"}


def test_a_partition_backfill_of_a_shard_launches_through_the_webserver_schema(instance: dg.DagsterInstance) -> None:
    """What the asset page's Materialize sends: it resolves the marts' mapping from the shard's client dimension,
    which must be the marts' own ``clients`` partitions (a shard of its own dynamic partitions fails here)."""
    instance.add_dynamic_partitions("clients", ["acme"])
    keys = [client_raw_asset_key("meta_ads", table, "acme") for table in RAW_TABLES["meta_ads"]]
    day = date.today() - timedelta(days=3)
    params = {"assetSelection": [{"path": key.path} for key in keys], "partitionNames": [f"acme|{day}"]}
    with graphql_context(instance) as context:
        answer = execute_dagster_graphql(context, LAUNCH_BACKFILL, {"backfillParams": params})
    assert answer.errors is None
    assert answer.data["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", answer.data
    [backfill] = instance.get_backfills()
    assert backfill.asset_selection == keys


def test_materializing_a_client_on_another_shards_asset_fails_and_records_nothing(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    if CLIENT_SHARDS == 1:
        pytest.skip("one shard: every client's days are on the one asset")
    connect("acme", "meta_ads")
    instance.add_dynamic_partitions("clients", ["acme"])
    other = (client_shard("acme") + 1) % CLIENT_SHARDS
    [asset] = [a for a in raw_assets if raw_asset_key("meta_ads", "campaign_daily", other) in a.keys]
    day = date.today() - timedelta(days=3)
    result = dg.materialize(
        [asset], partition_key=f"acme|{day}", instance=instance, resources={"tally": tally}, raise_on_error=False
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    own = client_raw_asset_key("meta_ads", "campaign_daily", "acme").to_user_string()
    assert own in failure.step_failure_data.user_failure_data.description
    assert all(not instance.get_materialized_partitions(key) for key in all_raw_asset_keys())


def test_this_module_passes_with_clients_split_across_four_shards() -> None:
    if CLIENT_SHARDS != 1:
        pytest.skip("this is the run in the fresh process")
    env = {**os.environ, "TALLY_CLIENT_SHARDS": "4"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
