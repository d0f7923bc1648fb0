"""Sync and backfill requests through the sensor and the platform assets, into a real DuckDB warehouse."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import pytest

from orchestration.definitions import defs
from orchestration.resources import TallyResource
from pipelines.emulator.accounts import emulator_credentials
from pipelines.loading import platform_pipeline
from pipelines.registry import get_platform
from tests.orchestration.conftest import Connect, backfills, outbox, run_backfill, tick, warehouse_rows
from warehouse import run_requests as requests_store

AD_PLATFORMS = ["meta_ads", "google_ads", "tiktok_ads"]


def request(tally: TallyResource, company: str, kind: str, platforms: list[str], days: int | None = None) -> str:
    with tally.app_engine().begin() as db:
        return requests_store.create_request(db, company, kind, platforms, "test", days=days)


def yesterday_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def direct_rows(
    tally: TallyResource, tmp_settings_dir: str, platform: str, company: str, start: date, end: date, seed: int
) -> dict[str, list]:
    """The same window loaded by calling the platform's dlt source directly, for comparison."""
    settings = tally.settings.model_copy(update={"data_dir": tally.settings.data_dir.parent / tmp_settings_dir})
    spec = get_platform(platform)
    credentials = spec.credentials_model.model_validate(emulator_credentials(platform, seed))
    platform_pipeline(platform, company, settings).run(
        spec.source(credentials, start_date=start, end_date=end, company_id=company, settings=settings)
    )
    return {table: warehouse_rows(settings, f"raw_{platform}", table) for table in ("campaign_daily", "campaigns")}


def test_definitions_load_without_touching_anything() -> None:
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/meta_ads/campaign_daily", "raw/shopify/daily_sales", "raw/ga4/traffic_daily"} <= keys


def test_backfill_becomes_one_single_run_backfill_per_platform_loading_the_emulator_rows(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    connections = {platform: connect("acme", platform) for platform in AD_PLATFORMS}
    request_id = request(tally, "acme", "backfill", AD_PLATFORMS, days=30)

    result = tick(instance, tally)
    assert "acme" in instance.get_dynamic_partitions("clients")
    assert len(result.run_requests) == 3
    for run_request in result.run_requests:
        platform = run_request.tags["tally/platform"]
        assert run_request.tags == {
            "tally/company_id": "acme",
            "tally/platform": platform,
            "tally/request_id": request_id,
        }
        partitions = {str(p.partition_key) for p in run_request.asset_graph_subset.iterate_asset_partitions()}
        end = yesterday_in(connections[platform]["timezone"])
        assert partitions == {f"acme|{end - timedelta(days=n)}" for n in range(30)}
        assert {key.path[1] for key in run_request.asset_graph_subset.asset_keys} == {platform}
    assert outbox(tally)[0]["status"] == "running"

    for run_request in result.run_requests:
        assert run_backfill(instance, tally, run_request)
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"tally/request_id": request_id}))
    assert len(runs) == 3

    tick(instance, tally)
    [row] = outbox(tally)
    assert row["status"] == "succeeded"
    assert all(
        entry == {"status": "succeeded", "partitions_done": 30, "partitions_total": 30, "error": None}
        for entry in row["progress"].values()
    )
    assert len(row["dagster_backfill_ids"]) == 3

    for platform in AD_PLATFORMS:
        end = yesterday_in(connections[platform]["timezone"])
        expected = direct_rows(tally, "direct", platform, "acme", end - timedelta(days=29), end, seed=1)
        assert warehouse_rows(tally.settings, f"raw_{platform}", "campaign_daily") == expected["campaign_daily"]
        assert expected["campaign_daily"]


def test_sync_loads_each_platforms_lookback_window(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    meta = connect("acme", "meta_ads")
    shop = connect("acme", "shopify")
    request(tally, "acme", "sync", ["meta_ads", "shopify"])
    result = tick(instance, tally)
    windows = {}
    for run_request in result.run_requests:
        days = sorted(
            str(p.partition_key).split("|")[1] for p in run_request.asset_graph_subset.iterate_asset_partitions()
        )
        windows[run_request.tags["tally/platform"]] = (days[0], days[-1], len(set(days)))
        assert run_backfill(instance, tally, run_request)
    meta_end, shop_end = yesterday_in(meta["timezone"]), yesterday_in(shop["timezone"])
    assert windows["meta_ads"] == (str(meta_end - timedelta(days=27)), str(meta_end), 28)
    assert windows["shopify"] == (str(shop_end - timedelta(days=6)), str(shop_end), 7)
    dates = {row[0] for row in warehouse_rows_dates(tally, "raw_meta_ads", "campaign_daily")}
    assert max(dates) <= meta_end and min(dates) >= meta_end - timedelta(days=27)


def warehouse_rows_dates(tally: TallyResource, schema: str, table: str) -> list[tuple[date]]:
    import duckdb

    with duckdb.connect(str(tally.settings.duckdb_path), read_only=True) as db:
        return db.execute(f'select distinct cast("date" as date) from {schema}."{table}"').fetchall()


def test_rerunning_a_partition_range_replaces_only_that_clients_days(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client
) -> None:
    acme = connect("acme", "meta_ads", seed=1)
    connect("globex", "meta_ads", seed=2)
    for company in ("acme", "globex"):
        request(tally, company, "backfill", ["meta_ads"], days=60)
    for run_request in tick(instance, tally).run_requests:
        assert run_backfill(instance, tally, run_request)
    tick(instance, tally)
    before = campaign_days(tally)

    # Late attribution: acme's recent days gain conversions on the next pull; a sync re-pulls 28 of its 60 days.
    emulator.put(f"/_emulator/faults/meta_ads/{acme['account_id']}", json={"late_attribution": True})
    request(tally, "acme", "sync", ["meta_ads"])
    for run_request in tick(instance, tally).run_requests:
        assert run_backfill(instance, tally, run_request)
    after = campaign_days(tally)

    assert len(after) == len(before), "a re-pull must not duplicate or drop rows"
    window_start = str(yesterday_in(acme["timezone"]) - timedelta(days=27))
    changed = {key for key in after if after[key] != before[key]}
    assert changed, "late conversions should have restated some of acme's recent days"
    assert all(company == "acme" and day >= window_start for company, day, _ in changed)


def campaign_days(tally: TallyResource) -> dict[tuple[str, str, str], str]:
    """Conversions per (company, day, campaign) in the warehouse, failing on a duplicate key."""
    import duckdb

    with duckdb.connect(str(tally.settings.duckdb_path), read_only=True) as db:
        rows = db.execute(
            'select company_id, cast("date" as varchar), campaign_id, conversions from raw_meta_ads.campaign_daily'
        ).fetchall()
    keyed = {(company, day, campaign): conversions for company, day, campaign, conversions in rows}
    assert len(keyed) == len(rows)
    return keyed


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


@pytest.mark.parametrize("fault", [{"revoke_after": 0}, {"server_error": 50}])
def test_platform_failure_fails_only_that_platform_and_is_recorded(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client, fault: dict
) -> None:
    meta = connect("acme", "meta_ads")
    connect("acme", "tiktok_ads")
    emulator.put(f"/_emulator/faults/meta_ads/{meta['account_id']}", json=fault).raise_for_status()
    request(tally, "acme", "backfill", ["meta_ads", "tiktok_ads"], days=30)
    outcomes = {
        rr.tags["tally/platform"]: run_backfill(instance, tally, rr) for rr in tick(instance, tally).run_requests
    }
    assert outcomes == {"meta_ads": False, "tiktok_ads": True}
    tick(instance, tally)
    [row] = outbox(tally)
    assert row["status"] == "failed"
    assert row["progress"]["tiktok_ads"]["status"] == "succeeded"
    assert row["progress"]["meta_ads"]["status"] == "failed"
    assert "Meta Ads" in row["progress"]["meta_ads"]["error"]
    with tally.app_engine().connect() as db:
        from warehouse.connections import get_connection

        stored = get_connection(db, "acme", meta["id"])
    assert "Meta Ads" in stored["last_sync_error"]
    assert stored["status"] == ("error" if "revoke_after" in fault else "active")
    assert warehouse_rows(tally.settings, "raw_tiktok_ads", "campaign_daily")


def test_a_failed_backfill_rerequested_ends_identical_to_a_clean_run(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client
) -> None:
    meta = connect("acme", "meta_ads")
    emulator.put(f"/_emulator/faults/meta_ads/{meta['account_id']}", json={"revoke_after": 2, "page_size": 20})
    request(tally, "acme", "backfill", ["meta_ads"], days=30)
    [run_request] = tick(instance, tally).run_requests
    assert not run_backfill(instance, tally, run_request)
    tick(instance, tally)
    emulator.delete("/_emulator/faults").raise_for_status()

    request(tally, "acme", "backfill", ["meta_ads"], days=30)
    [run_request] = tick(instance, tally).run_requests
    assert run_backfill(instance, tally, run_request)
    end = yesterday_in(meta["timezone"])
    clean = direct_rows(tally, "clean", "meta_ads", "acme", end - timedelta(days=29), end, seed=1)
    for table in ("campaign_daily", "campaigns"):
        assert warehouse_rows(tally.settings, "raw_meta_ads", table) == clean[table]


def test_credentials_never_reach_dagster_events_or_run_config(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client
) -> None:
    sentinel = "sentinel-dagster-91c2"
    meta = connect("acme", "meta_ads", access_token=sentinel)
    request(tally, "acme", "backfill", ["meta_ads"], days=30)
    [run_request] = tick(instance, tally).run_requests
    assert run_backfill(instance, tally, run_request)
    emulator.put(f"/_emulator/faults/meta_ads/{meta['account_id']}", json={"revoke_after": 0})
    request(tally, "acme", "sync", ["meta_ads"])
    [run_request] = backfills(tick(instance, tally))
    assert not run_backfill(instance, tally, run_request)
    assert len(instance.get_runs()) == 2
    for run in instance.get_runs():
        assert sentinel not in json.dumps(run.run_config, default=str)
        assert sentinel not in json.dumps(run.tags)
        for record in instance.all_logs(run.run_id):
            assert sentinel not in str(record)
    assert sentinel not in str(warehouse_rows(tally.settings, "raw_meta_ads", "campaign_daily"))


def test_daily_refresh_queues_a_sync_of_every_connected_company(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    from orchestration.schedules import daily_refresh_job

    connect("acme", "meta_ads")
    connect("acme", "ga4")
    connect("globex", "tiktok_ads")
    result = daily_refresh_job.execute_in_process(instance=instance, resources={"tally": tally})
    assert result.success and result.output_for_node("queue_daily_syncs") == 2
    queued = {row["company_id"]: sorted(row["platforms"]) for row in outbox(tally) if row["kind"] == "sync"}
    assert queued == {"acme": ["ga4", "meta_ads"], "globex": ["tiktok_ads"]}
    windows = {
        rr.tags["tally/platform"]: len({p.partition_key for p in rr.asset_graph_subset.iterate_asset_partitions()})
        for rr in tick(instance, tally).run_requests
    }
    assert windows == {"meta_ads": 28, "ga4": 3, "tiktok_ads": 28}


def test_finished_request_rebuilds_the_marts_from_the_raw_tables(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    import duckdb

    from orchestration.assets.marts import marts

    connect("acme", "meta_ads")
    connect("acme", "google_ads")
    request(tally, "acme", "backfill", ["meta_ads", "google_ads"], days=30)
    for run_request in tick(instance, tally).run_requests:
        assert run_backfill(instance, tally, run_request)
    [marts_request] = tick(instance, tally).run_requests
    assert {key.to_user_string() for key in marts_request.asset_selection} == {
        "marts/campaign_daily",
        "marts/metric_daily",
    }
    assert marts_request.tags["tally/company_id"] == "acme"
    result = dg.materialize([marts], instance=instance, resources={"tally": tally}, tags=marts_request.tags)
    assert result.success
    with duckdb.connect(str(tally.settings.duckdb_path), read_only=True) as db:
        per_platform = dict(db.execute("select platform, count(*) from marts.campaign_daily group by 1").fetchall())
        raw = {
            platform: db.execute(f"select count(*) from raw_{platform}.campaign_daily").fetchone()[0]
            for platform in ("meta_ads", "google_ads")
        }
        spend = db.execute("select count(*) from marts.metric_daily where metric_key = 'spend'").fetchone()[0]
    assert per_platform == raw and spend > 0
    assert tick(instance, tally).run_requests == []
