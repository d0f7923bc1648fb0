"""Sync and backfill requests through the sensor and client_refresh_job, into a real DuckDB warehouse.

Expected rows and totals come from the emulator, read over HTTP and added up here, never from Tally's own loaders.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import httpx
import pytest

from orchestration.definitions import defs
from orchestration.resources import TallyResource
from tests.orchestration.conftest import (
    Connect,
    execute,
    outbox,
    run_pending,
    served_meta_insights,
    served_meta_spend,
    tick,
)
from warehouse import run_requests as requests_store

AD_PLATFORMS = ["meta_ads", "google_ads", "tiktok_ads"]


def request(tally: TallyResource, company: str, kind: str, platforms: list[str], days: int | None = None) -> str:
    with tally.app_engine().begin() as db:
        return requests_store.create_request(db, company, kind, platforms, "test", days=days)


def yesterday_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def warehouse_query(tally: TallyResource, sql: str) -> list[tuple]:
    with duckdb.connect(str(tally.settings.duckdb_path), read_only=True) as db:
        return db.execute(sql).fetchall()


def windows_of(run_request: dg.RunRequest) -> dict[str, tuple[str, str]]:
    config = run_request.run_config["ops"]["fetch_days"]["config"]
    return {window["platform"]: (window["start"], window["end"]) for window in config["windows"]}


def test_definitions_load_without_touching_anything() -> None:
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/meta_ads/campaign_daily", "raw/shopify/daily_sales", "raw/ga4/traffic_daily"} <= keys
    assert {"client_refresh_job", "client_marts_job"} <= {job.name for job in defs.resolve_all_job_defs()}


def test_backfill_is_one_run_that_loads_every_platform_and_publishes_before_it_succeeds(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator_url: str
) -> None:
    connections = {platform: connect("acme", platform) for platform in AD_PLATFORMS}
    request_id = request(tally, "acme", "backfill", AD_PLATFORMS, days=30)

    [run_request] = tick(instance, tally).run_requests
    assert "acme" in instance.get_dynamic_partitions("clients")
    assert run_request.job_name == "client_refresh_job"
    assert run_request.run_key == f"refresh-{request_id}"
    assert run_request.tags == {"tally/company_id": "acme", "tally/request_id": request_id}
    for platform, (start, end) in windows_of(run_request).items():
        last = yesterday_in(connections[platform]["timezone"])
        assert (start, end) == (str(last - timedelta(days=29)), str(last))
    [row] = outbox(tally)
    assert row["status"] == "pending", "a request is running only once Dagster has its run"
    assert row["progress"]["marts"]["status"] == "waiting"

    assert execute(instance, tally, run_request)
    [row] = outbox(tally)
    assert row["status"] == "succeeded"
    assert row["progress"] == {
        **{
            p: {"status": "succeeded", "partitions_done": 30, "partitions_total": 30, "error": None}
            for p in AD_PLATFORMS
        },
        "marts": {"status": "succeeded", "partitions_done": 1, "partitions_total": 1, "error": None},
    }
    assert len(instance.get_runs(filters=dg.RunsFilter(tags={"tally/request_id": request_id}))) == 1

    meta = connections["meta_ads"]
    end = yesterday_in(meta["timezone"])
    served = served_meta_spend(emulator_url, meta["account_id"], end - timedelta(days=29), end)
    assert served > 0
    [(raw_spend,)] = warehouse_query(
        tally, "select sum(cast(spend as decimal(18, 2))) from raw_meta_ads.campaign_daily"
    )
    [(mart_spend,)] = warehouse_query(
        tally, "select sum(spend) from marts.campaign_daily where platform = 'meta_ads' and company_id = 'acme'"
    )
    assert Decimal(str(raw_spend)) == served
    assert Decimal(str(mart_spend)).quantize(Decimal("0.01")) == served
    assert tick(instance, tally).run_requests == []


def test_the_run_materializes_the_clients_raw_day_partitions_and_its_marts_partition(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    meta = connect("acme", "meta_ads")
    request(tally, "acme", "backfill", ["meta_ads"], days=30)
    assert run_pending(instance, tally) == [True]
    end = yesterday_in(meta["timezone"])
    raw = instance.get_materialized_partitions(dg.AssetKey(["raw", "meta_ads", "campaign_daily"]))
    assert raw == {f"acme|{end - timedelta(days=n)}" for n in range(30)}
    assert instance.get_materialized_partitions(dg.AssetKey(["marts", "campaign_daily"])) == {"acme"}


def test_sync_loads_each_platforms_lookback_window(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    meta = connect("acme", "meta_ads")
    shop = connect("acme", "shopify")
    request(tally, "acme", "sync", ["meta_ads", "shopify"])
    [run_request] = tick(instance, tally).run_requests
    meta_end, shop_end = yesterday_in(meta["timezone"]), yesterday_in(shop["timezone"])
    assert windows_of(run_request) == {
        "meta_ads": (str(meta_end - timedelta(days=27)), str(meta_end)),
        "shopify": (str(shop_end - timedelta(days=6)), str(shop_end)),
    }
    assert execute(instance, tally, run_request)
    [(first, last)] = warehouse_query(tally, "select min(date), max(date) from raw_meta_ads.campaign_daily")
    assert (first, last) == (meta_end - timedelta(days=27), meta_end)


def test_a_second_sync_while_one_is_pending_is_merged_into_it(tally: TallyResource, connect: Connect) -> None:
    connect("acme", "meta_ads")
    first = request(tally, "acme", "sync", ["meta_ads"])
    assert request(tally, "acme", "sync", ["meta_ads"]) == first
    assert [row["id"] for row in outbox(tally)] == [first]


def test_rerunning_a_range_replaces_only_that_clients_days(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client, emulator_url: str
) -> None:
    acme = connect("acme", "meta_ads", seed=1)
    globex = connect("globex", "meta_ads", seed=2)
    for company in ("acme", "globex"):
        request(tally, company, "backfill", ["meta_ads"], days=60)
    assert run_pending(instance, tally) == [True, True]

    # Late attribution: acme's recent days gain conversions on the next pull; a sync re-pulls 28 of its 60 days.
    emulator.put(f"/_emulator/faults/meta_ads/{acme['account_id']}", json={"late_attribution": True})
    request(tally, "acme", "sync", ["meta_ads"])
    assert run_pending(instance, tally) == [True]

    for company, connection in (("acme", acme), ("globex", globex)):
        end = yesterday_in(connection["timezone"])
        served = served_meta_insights(emulator_url, connection["account_id"], end - timedelta(days=59), end)
        rows = warehouse_query(
            tally,
            "select cast(date as varchar), campaign_id, spend from raw_meta_ads.campaign_daily "
            f"where company_id = '{company}' order by all",
        )
        assert len(rows) == len({(r[0], r[1]) for r in rows}), "a re-pull must not duplicate rows"
        assert len(rows) == len(served)
        assert sum(Decimal(str(r[2])) for r in rows) == sum(Decimal(s["spend"]) for s in served)


@pytest.mark.parametrize(("platform", "table"), [("meta_ads", "campaign_daily"), ("ga4", "traffic_daily")])
def test_days_the_platform_now_returns_empty_lose_their_old_rows(
    instance: dg.DagsterInstance,
    tally: TallyResource,
    connect: Connect,
    emulator: httpx.Client,
    platform: str,
    table: str,
) -> None:
    connection = connect("acme", platform)
    request(tally, "acme", "sync", [platform])
    assert run_pending(instance, tally) == [True]
    assert warehouse_query(tally, f"select count(*) from raw_{platform}.{table}")[0][0] > 0
    request(tally, "acme", "sync", [platform])
    assert run_pending(instance, tally) == [True]

    # The platform now reports nothing for the account: a re-pull answers successfully with no rows for any day.
    emulator.put(f"/_emulator/faults/{platform}/{connection['account_id']}", json={"no_delivery": True})
    request(tally, "acme", "sync", [platform])
    assert run_pending(instance, tally) == [True]
    assert warehouse_query(tally, f"select count(*) from raw_{platform}.{table}") == [(0,)]


def test_company_without_a_connection_to_the_platform_loads_nothing_and_succeeds(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    connect("acme", "meta_ads")
    instance.add_dynamic_partitions("clients", ["acme"])
    result = dg.materialize(
        [asset for asset in defs.assets if asset.node_def.name == "tiktok_ads_raw"],
        instance=instance,
        resources={"tally": tally},
        partition_key="acme|2026-01-05",
    )
    assert result.success
    [materialization] = [
        m for m in result.asset_materializations_for_node("tiktok_ads_raw") if m.asset_key.path[-1] == "campaign_daily"
    ]
    assert materialization.metadata["skipped"].value == "no active tiktok_ads connection"


def test_a_request_whose_platform_lost_its_connection_skips_it_and_loads_the_rest(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    connect("acme", "meta_ads")
    request(tally, "acme", "backfill", ["meta_ads", "tiktok_ads"], days=30)
    [run_request] = tick(instance, tally).run_requests
    assert set(windows_of(run_request)) == {"meta_ads"}
    assert execute(instance, tally, run_request)
    [row] = outbox(tally)
    assert row["status"] == "succeeded"
    assert row["progress"]["tiktok_ads"] == {
        "status": "skipped",
        "partitions_done": 0,
        "partitions_total": 0,
        "error": "no active connection",
    }


@pytest.mark.parametrize("fault", [{"revoke_after": 0}, {"server_error": 50}])
def test_platform_failure_fails_only_that_platform_and_the_rest_is_published(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client, fault: dict
) -> None:
    meta = connect("acme", "meta_ads")
    connect("acme", "tiktok_ads")
    emulator.put(f"/_emulator/faults/meta_ads/{meta['account_id']}", json=fault).raise_for_status()
    request(tally, "acme", "backfill", ["meta_ads", "tiktok_ads"], days=30)
    [refresh] = tick(instance, tally).run_requests
    assert not execute(instance, tally, refresh), "the run fails with Meta's reason"
    [row] = outbox(tally)
    assert row["status"] == "failed"
    assert row["error"].startswith("meta_ads: Meta Ads")
    assert row["progress"]["tiktok_ads"]["status"] == "succeeded"
    assert row["progress"]["meta_ads"]["status"] == "failed"
    assert row["progress"]["marts"]["status"] == "succeeded", "what loaded is published by the same run"
    with tally.app_engine().connect() as db:
        from warehouse.connections import get_connection

        stored = get_connection(db, "acme", meta["id"])
    assert "Meta Ads" in stored["last_sync_error"]
    assert stored["status"] == ("error" if "revoke_after" in fault else "active")
    [(platforms,)] = warehouse_query(tally, "select list(distinct platform) from marts.campaign_daily")
    assert platforms == ["tiktok_ads"]
    assert tick(instance, tally).run_requests == []


def test_a_failed_backfill_rerequested_ends_with_what_the_platform_serves(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client, emulator_url: str
) -> None:
    meta = connect("acme", "meta_ads")
    emulator.put(f"/_emulator/faults/meta_ads/{meta['account_id']}", json={"revoke_after": 2, "page_size": 20})
    request(tally, "acme", "backfill", ["meta_ads"], days=30)
    assert run_pending(instance, tally) == [False]
    assert outbox(tally)[0]["status"] == "failed"
    emulator.delete("/_emulator/faults").raise_for_status()

    request(tally, "acme", "backfill", ["meta_ads"], days=30)
    assert run_pending(instance, tally) == [True]
    end = yesterday_in(meta["timezone"])
    served = served_meta_insights(emulator_url, meta["account_id"], end - timedelta(days=29), end)
    rows = warehouse_query(tally, "select campaign_id, cast(date as varchar), spend from raw_meta_ads.campaign_daily")
    assert sorted((r[0], r[1], Decimal(str(r[2]))) for r in rows) == sorted(
        (s["campaign_id"], s["date_start"], Decimal(s["spend"])) for s in served
    )


def test_credentials_never_reach_dagster_events_or_run_config(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client
) -> None:
    sentinel = "sentinel-dagster-91c2"
    meta = connect("acme", "meta_ads", access_token=sentinel)
    request(tally, "acme", "backfill", ["meta_ads"], days=30)
    assert run_pending(instance, tally) == [True]
    emulator.put(f"/_emulator/faults/meta_ads/{meta['account_id']}", json={"revoke_after": 0})
    request(tally, "acme", "sync", ["meta_ads"])
    assert run_pending(instance, tally) == [False]
    assert len(instance.get_runs()) == 2
    for run in instance.get_runs():
        assert sentinel not in json.dumps(run.run_config, default=str)
        assert sentinel not in json.dumps(run.tags)
        for record in instance.all_logs(run.run_id):
            assert sentinel not in str(record)
    assert sentinel not in str(warehouse_query(tally, "select * from raw_meta_ads.campaign_daily"))


def test_daily_refresh_queues_a_sync_of_every_connected_company_not_already_syncing(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    from orchestration.schedules import daily_refresh_job

    connect("acme", "meta_ads")
    connect("acme", "ga4")
    connect("globex", "tiktok_ads")
    connect("initech", "meta_ads")
    still_running = request(tally, "initech", "sync", ["meta_ads"])
    result = daily_refresh_job.execute_in_process(instance=instance, resources={"tally": tally})
    assert result.success and result.output_for_node("queue_daily_syncs") == 2
    queued = {row["company_id"]: sorted(row["platforms"]) for row in outbox(tally) if row["kind"] == "sync"}
    assert queued == {"acme": ["ga4", "meta_ads"], "globex": ["tiktok_ads"], "initech": ["meta_ads"]}
    assert [row["id"] for row in outbox(tally) if row["company_id"] == "initech"] == [still_running]
    lengths = {}
    for run_request in tick(instance, tally).run_requests:
        for platform, (start, end) in windows_of(run_request).items():
            lengths[platform, run_request.tags["tally/company_id"]] = (
                date.fromisoformat(end) - date.fromisoformat(start)
            ).days + 1
    assert lengths == {
        ("meta_ads", "acme"): 28,
        ("ga4", "acme"): 3,
        ("tiktok_ads", "globex"): 28,
        ("meta_ads", "initech"): 28,
    }
