"""The hand-over from the outbox to Dagster: idempotent, never lost, and honest about progress while a run works."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from orchestration.resources import TallyResource
from tests.databases import temporary_postgres_database
from tests.orchestration.conftest import Connect, create_run, execute, outbox, served_meta_insights, tick
from tests.orchestration.test_backfill_and_sync import yesterday_in
from warehouse import run_requests as requests_store
from warehouse.app_tables import run_requests


def backfill(tally: TallyResource, company: str, platforms: list[str], days: int = 30) -> str:
    with tally.app_engine().begin() as db:
        return requests_store.create_request(db, company, "backfill", platforms, "test", days=days)


def test_a_tick_whose_run_requests_never_reached_dagster_is_asked_again_with_the_same_run_key(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    connect("acme", "meta_ads")
    request_id = backfill(tally, "acme", ["meta_ads"])
    [lost] = tick(instance, tally).run_requests  # the tick planned and asked, but nothing was submitted
    assert outbox(tally)[0]["status"] == "pending"

    [again] = tick(instance, tally).run_requests
    assert (again.run_key, again.run_config, again.tags) == (lost.run_key, lost.run_config, lost.tags)
    assert execute(instance, tally, again)
    [row] = outbox(tally)
    assert row["status"] == "succeeded" and row["dagster_run_id"] is not None
    assert tick(instance, tally).run_requests == [], "a request with a run is never asked for again"
    assert len(instance.get_runs(filters=dg.RunsFilter(tags={"tally/request_id": request_id}))) == 1


def test_a_queued_run_marks_its_request_running_on_the_next_tick(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    connect("acme", "meta_ads")
    backfill(tally, "acme", ["meta_ads"])
    [run_request] = tick(instance, tally).run_requests
    run = create_run(instance, run_request)
    assert tick(instance, tally).run_requests == []
    [row] = outbox(tally)
    assert (row["status"], row["dagster_run_id"]) == ("running", run.run_id)


def test_a_request_whose_run_never_appears_fails_with_a_reason_and_the_next_backfill_is_accepted(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    connect("acme", "meta_ads")
    backfill(tally, "acme", ["meta_ads"])
    tick(instance, tally)  # asked Dagster for the run; Dagster never got it
    with tally.app_engine().begin() as db:  # eleven minutes pass without the run appearing
        db.execute(run_requests.update().values(launched_at=sa.func.datetime("now", "-11 minutes")))
    assert tick(instance, tally).run_requests == []
    [row] = outbox(tally)
    assert row["status"] == "failed"
    assert "did not start the request's run within 10 minutes" in row["error"]
    assert row["progress"]["meta_ads"]["status"] == "failed"

    backfill(tally, "acme", ["meta_ads"])
    [run_request] = tick(instance, tally).run_requests
    assert execute(instance, tally, run_request)
    assert [row["status"] for row in outbox(tally)] == ["failed", "succeeded"]


def test_a_run_that_ended_without_an_outcome_fails_its_request_with_the_runs_reason(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect
) -> None:
    connect("acme", "meta_ads")
    backfill(tally, "acme", ["meta_ads"])
    [run_request] = tick(instance, tally).run_requests
    run = create_run(instance, run_request)
    tick(instance, tally)
    instance.report_run_canceled(run, message="the run was canceled before it loaded anything")
    assert tick(instance, tally).run_requests == []
    [row] = outbox(tally)
    assert row["status"] == "failed"
    assert "canceled before it loaded anything" in row["error"]


def test_a_backfills_progress_moves_while_its_run_fetches(
    instance: dg.DagsterInstance, tally: TallyResource, connect: Connect, emulator: httpx.Client
) -> None:
    meta = connect("acme", "meta_ads")
    # Each 30-day chunk takes a second or more of slowed pages, so the 50 ms polls see it land.
    emulator.put(f"/_emulator/faults/meta_ads/{meta['account_id']}", json={"delay_seconds": 0.1, "page_size": 100})
    backfill(tally, "acme", ["meta_ads"], days=90)
    [run_request] = tick(instance, tally).run_requests
    outcome: list[bool] = []
    worker = threading.Thread(target=lambda: outcome.append(execute(instance, tally, run_request)))
    worker.start()
    seen = set()
    deadline = time.monotonic() + 240
    while worker.is_alive() and time.monotonic() < deadline:
        progress = outbox(tally)[0]["progress"]
        seen.add((progress["meta_ads"]["status"], progress["meta_ads"]["partitions_done"], progress["marts"]["status"]))
        time.sleep(0.05)
    worker.join()
    assert outcome == [True]
    assert {("running", 30, "waiting"), ("running", 60, "waiting")} <= seen, sorted(seen)
    assert outbox(tally)[0]["progress"]["meta_ads"]["partitions_done"] == 90


def _execute_timed(locations: dict[str, Any], request: dg.RunRequest, start: Any) -> tuple[bool, float, float]:
    """Run one run request in this (child) process on its own instance, as a run worker would, once every worker
    is at the ``start`` barrier; its outcome and the wall-clock span it took, so the test sees the loads overlap."""
    with dg.instance_for_test() as instance:
        start.wait()
        started = time.time()
        succeeded = execute(instance, TallyResource(**locations), request)
        return succeeded, started, time.time()


@pytest.mark.postgres
def test_two_clients_of_one_platform_loading_at_once_on_postgres_keep_every_row(
    tally: TallyResource, connect: Connect, emulator: httpx.Client, emulator_url: str
) -> None:
    """Each load runs in its own process (production's run workers; Python's logging set-up is not safe for two
    Dagster runs in threads of one process), slowed down by the emulator so that the two overlap."""
    with temporary_postgres_database("tally_concurrent_wh") as warehouse_url:
        on_postgres = tally.model_copy(update={"warehouse_url": warehouse_url})
        connections = {
            company: connect(company, "meta_ads", seed=seed) for company, seed in (("acme", 1), ("globex", 2))
        }
        for company, connection in connections.items():
            emulator.put(f"/_emulator/faults/meta_ads/{connection['account_id']}", json={"delay_seconds": 0.2})
            backfill(on_postgres, company, ["meta_ads"])
        with dg.instance_for_test() as planner:
            run_requests_ = tick(planner, on_postgres).run_requests
        assert len(run_requests_) == 2
        spawn = multiprocessing.get_context("spawn")
        with spawn.Manager() as manager, ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
            start = manager.Barrier(2)
            results = list(pool.map(_execute_timed, [on_postgres.model_dump()] * 2, run_requests_, [start] * 2))
        assert [succeeded for succeeded, _, _ in results] == [True, True]
        (_, first_start, first_end), (_, second_start, second_end) = results
        assert first_start < second_end and second_start < first_end, "the two loads did not overlap"
        engine = sa.create_engine(warehouse_url)
        with engine.connect() as db:
            for company, connection in connections.items():
                end = yesterday_in(connection["timezone"])
                served = served_meta_insights(emulator_url, connection["account_id"], end - timedelta(days=29), end)
                rows = db.execute(
                    sa.text(
                        "select count(*), sum(cast(spend as numeric)) from raw_meta_ads.campaign_daily "
                        "where company_id = :company"
                    ),
                    {"company": company},
                ).one()
                assert rows[0] == len(served) > 0
                assert rows[1] == sum(Decimal(row["spend"]) for row in served)
                marts = db.execute(
                    sa.text("select count(*) from marts.campaign_daily where company_id = :company"),
                    {"company": company},
                ).scalar_one()
                assert marts == len(served)
        engine.dispose()
        assert [row["status"] for row in outbox(on_postgres)] == ["succeeded", "succeeded"]
