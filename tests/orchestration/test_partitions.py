"""Raw assets and marts split across shards of clients: each client is a partition of its own shard's assets
only, its days and marts are recorded there, and the run path, the sensor and the asset page follow it.

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
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from orchestration.assets.insights import INSIGHT_KEY
from orchestration.assets.marts import client_mart_asset_key, mart_asset_key
from orchestration.assets.raw import (
    RAW_TABLES,
    all_raw_asset_keys,
    client_raw_asset_key,
    raw_asset_key,
    raw_assets,
    shard_raw_asset_keys,
)
from orchestration.definitions import defs
from orchestration.partitions import CLIENT_SHARDS, add_clients, client_shard, shard_name
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
# What the asset page's partitions tab lists for an asset, per dimension.
PARTITION_KEYS = """
query PartitionKeys($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode { partitionKeysByDimension { name partitionKeys } }
  }
}
"""


@contextmanager
def graphql_context(instance: dg.DagsterInstance) -> Iterator[Any]:
    """The webserver's GraphQL context over the repository's workspace (a code server of the definitions)."""
    with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context:
        yield context


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


def test_sharded_layout_has_one_asset_per_table_and_shard_and_each_shards_marts_depend_on_its_raw_tables() -> None:
    keys = {key.to_user_string() for key in all_raw_asset_keys(4)}
    assert len(keys) == 4 * sum(len(tables) for tables in RAW_TABLES.values())
    assert {"raw/meta_ads/campaign_daily/clients_0", "raw/meta_ads/campaign_daily/clients_3"} <= keys
    assert {key.to_user_string() for key in all_raw_asset_keys(1)} >= {"raw/meta_ads/campaign_daily"}
    assert shard_name(0, 1) is None and shard_name(7, 16) == "clients_07"
    assert mart_asset_key("metric_daily", 3, 4).to_user_string() == "marts/metric_daily/clients_3"
    assert mart_asset_key("metric_daily", 0, 1).to_user_string() == "marts/metric_daily"

    graph = defs.resolve_asset_graph()
    raw_keys = set(all_raw_asset_keys())
    # The ECB's reference rates (raw/fx/...) are no client's: they are not partitioned, and no client's marts wait.
    assert {key for key in graph.get_all_asset_keys() if key.path[:1] == ["raw"] and key.path[1] != "fx"} == raw_keys
    mart_keys = {key for key in graph.get_all_asset_keys() if key.path[:1] == ["marts"] and key.path[1] != "fx_rates"}
    assert len(mart_keys) == 2 * CLIENT_SHARDS
    for shard in range(CLIENT_SHARDS):
        shard_raw = set(shard_raw_asset_keys(shard))
        assert len(shard_raw) == sum(len(tables) for tables in RAW_TABLES.values())
        for name in ("campaign_daily", "metric_daily"):
            assert set(graph.get(mart_asset_key(name, shard)).parent_keys) == shard_raw
    assert mart_keys <= set(graph.get(INSIGHT_KEY).parent_keys)


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
    marts = {client_mart_asset_key(name, "acme") for name in ("campaign_daily", "metric_daily")}
    for name in ("campaign_daily", "metric_daily"):
        for shard in range(CLIENT_SHARDS):
            expected_marts = {"acme"} if mart_asset_key(name, shard) in marts else set()
            assert instance.get_materialized_partitions(mart_asset_key(name, shard)) == expected_marts


def test_a_client_missing_from_its_shards_partitions_is_added_by_its_next_refresh(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    """A client onboarded under another shard count is in ``clients`` but not in its new shard's partitions (the
    sensor adds only clients it has not seen): its next refresh adds it there and records its days on that shard."""
    meta = connect("acme", "meta_ads")
    instance.add_dynamic_partitions("clients", ["acme"])
    with tally.app_engine().begin() as db:
        requests_store.create_request(db, "acme", "backfill", ["meta_ads"], "test", days=30)

    assert run_pending(instance, tally) == [True]

    own_partitions = shard_name(client_shard("acme")) or "clients"
    assert "acme" in instance.get_dynamic_partitions(own_partitions)
    end = yesterday_in(meta["timezone"])
    expected = {f"acme|{end - timedelta(days=n)}" for n in range(30)}
    assert instance.get_materialized_partitions(client_raw_asset_key("meta_ads", "campaign_daily", "acme")) == expected
    assert instance.get_materialized_partitions(client_mart_asset_key("metric_daily", "acme")) == {"acme"}


def launch_backfill(context: Any, instance: dg.DagsterInstance, keys: list[dg.AssetKey], partitions: list[str]) -> None:
    """Launch a partition backfill as the asset page's Materialize does, and check Dagster took it."""
    params = {"assetSelection": [{"path": key.path} for key in keys], "partitionNames": partitions}
    answer = execute_dagster_graphql(context, LAUNCH_BACKFILL, {"backfillParams": params})
    assert answer.errors is None
    assert answer.data["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", answer.data
    assert instance.get_backfills()[0].asset_selection == keys


def test_the_asset_page_lists_a_shards_own_clients_and_launches_backfills_of_its_raw_tables_marts_and_insight(
    instance: dg.DagsterInstance,
) -> None:
    """A shard's raw tables and marts are partitioned by the shard's clients, so the asset page (and what a
    partition backfill is validated against) holds those clients, not every client of the agency. What the asset
    page's Materialize sends is validated against the asset's partitions, and each parent's partition mapping is
    resolved (the raw shard's client dimension to its marts, the marts to the insight): Dagster refuses the
    backfill where a mapping does not resolve."""
    companies = [f"client{index:03d}" for index in range(40)]
    add_clients(instance, companies)
    own = [company for company in companies if client_shard(company) == client_shard("client000")]
    raw = [client_raw_asset_key("meta_ads", table, "client000") for table in RAW_TABLES["meta_ads"]]
    marts = [client_mart_asset_key(name, "client000") for name in ("campaign_daily", "metric_daily")]
    day = date.today() - timedelta(days=3)
    with graphql_context(instance) as context:
        for key in (raw[0], marts[0]):
            answer = execute_dagster_graphql(context, PARTITION_KEYS, {"assetKey": {"path": key.path}})
            dimensions = {
                d["name"]: d["partitionKeys"] for d in answer.data["assetNodeOrError"]["partitionKeysByDimension"]
            }
            client_dimension = dimensions.get("client", dimensions.get("default"))
            assert sorted(client_dimension) == sorted(own), key.to_user_string()
        launch_backfill(context, instance, raw, [f"client000|{day}"])
        launch_backfill(context, instance, marts, ["client000"])
        launch_backfill(context, instance, [INSIGHT_KEY], ["client000", "client001"])
    assert len(instance.get_backfills()) == 3
    assert set(instance.get_dynamic_partitions("clients")) == set(companies)


def test_materializing_a_client_on_another_shards_asset_fails_and_records_nothing(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    if CLIENT_SHARDS == 1:
        pytest.skip("one shard: every client's days are on the one asset")
    connect("acme", "meta_ads")
    add_clients(instance, ["acme"])
    other = (client_shard("acme") + 1) % CLIENT_SHARDS
    [asset] = [a for a in raw_assets if raw_asset_key("meta_ads", "campaign_daily", other) in a.keys]
    day = date.today() - timedelta(days=3)
    with pytest.raises(dg.DagsterUnknownPartitionError, match="acme"):
        dg.materialize([asset], partition_key=f"acme|{day}", instance=instance, resources={"tally": tally})
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
