"""The production deployment in ``deploy/``: the code location served by a gRPC code server, the instance on PostgreSQL.

Dagster's Helm chart (and its Docker and Kubernetes run launchers) never import the code into the webserver or
the daemon: they reach a code server over gRPC. Here ``dagster code-server start`` serves
``orchestration.definitions`` on a free loopback port, and a webserver loads ``deploy/workspace.yaml`` as shipped
(host and port from its environment variables); its GraphQL API must list Tally's assets, jobs and sensor.
``deploy/dagster.yaml`` is loaded by Dagster itself with its ``DAGSTER_PG_*`` variables pointing at a fresh
PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
import yaml

from tally.child_processes import ChildProcesses
from tally.demo import wait_for_code_location
from tests.databases import temporary_postgres_database
from tests.e2e.conftest import processes_of
from tests.ports import child_port

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
BIN = Path(sys.executable).parent
RAW_ASSETS = {
    "raw/meta_ads/campaign_daily",
    "raw/meta_ads/campaigns",
    "raw/google_ads/campaign_daily",
    "raw/google_ads/campaigns",
    "raw/tiktok_ads/campaign_daily",
    "raw/tiktok_ads/campaigns",
    "raw/shopify/daily_sales",
    "raw/ga4/traffic_daily",
}
MART_ASSETS = {"marts/campaign_daily", "marts/metric_daily"}
DEFINITIONS_QUERY = """{
  workspaceOrError { ... on Workspace { locationEntries { name displayMetadata { key value } } } }
  repositoriesOrError { ... on RepositoryConnection { nodes {
    location { name } assetNodes { assetKey { path } } jobs { name } sensors { name } } } }
}"""


def wait_for_code_server(children: ChildProcesses, port: int, env: dict[str, str], timeout_seconds: float) -> None:
    """Wait until the code server answers Dagster's own gRPC health check (a webserver started earlier keeps the
    location's load error until reloaded)."""
    check = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port), "-h", "127.0.0.1"]
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        children.check_alive()
        if subprocess.run(check, env=env, capture_output=True, timeout=60).returncode == 0:
            return
        time.sleep(1)
    pytest.fail(f"the code server on port {port} did not answer its health check within {timeout_seconds:.0f} s")


def served_definitions(ui_url: str) -> dict[str, Any]:
    """What the webserver's GraphQL API says its workspace holds."""
    answer = httpx.post(f"{ui_url}/graphql", json={"query": DEFINITIONS_QUERY}, timeout=30).raise_for_status().json()
    assert "errors" not in answer, answer
    return answer["data"]


@pytest.mark.slow
def test_the_deploy_workspace_loads_the_definitions_from_a_grpc_code_server(tmp_path: Path) -> None:
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster_home" / "dagster.yaml", dagster_home / "dagster.yaml")
    code_port, ui_port = child_port(), child_port()
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("TALLY_", "DAGSTER_"))}
    env = inherited | {
        "DAGSTER_HOME": str(dagster_home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), inherited.get("PYTHONPATH")])),
        "TALLY_CODE_SERVER_HOST": "127.0.0.1",
        "TALLY_CODE_SERVER_PORT": str(code_port),
    }
    code_server = [str(BIN / "dagster"), "code-server", "start", "-m", "orchestration.definitions"]
    webserver = [str(BIN / "dagster-webserver"), "-w", str(DEPLOY / "workspace.yaml"), "-h", "127.0.0.1"]
    with ChildProcesses(tmp_path / "logs") as children:
        children.start("code-server", [*code_server, "-h", "127.0.0.1", "-p", str(code_port)], env, REPO_ROOT)
        wait_for_code_server(children, code_port, env, timeout_seconds=120)
        children.start("dagster-webserver", [*webserver, "-p", str(ui_port)], env, REPO_ROOT)
        ui_url = f"http://127.0.0.1:{ui_port}"
        children.wait_for_url(f"{ui_url}/server_info", timeout_seconds=120)
        wait_for_code_location(children, ui_url, timeout_seconds=120)
        served = served_definitions(ui_url)

    [entry] = served["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "orchestration"
    metadata = {item["key"]: item["value"] for item in entry["displayMetadata"]}
    assert (metadata.get("host"), metadata.get("port")) == ("127.0.0.1", str(code_port)), metadata
    [repository] = served["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == "orchestration"
    assets = {"/".join(node["assetKey"]["path"]) for node in repository["assetNodes"]}
    assert assets >= RAW_ASSETS | MART_ASSETS, assets
    assert "run_requests_sensor" in {sensor["name"] for sensor in repository["sensors"]}
    assert repository["jobs"], "the code server serves no job"
    assert processes_of(dagster_home) == []


@pytest.mark.postgres
def test_the_deploy_instance_is_valid_and_stores_its_runs_in_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with temporary_postgres_database("tally_deploy") as url:
        server = sa.engine.make_url(url)
        for name, value in {
            "DAGSTER_PG_HOST": server.host,
            "DAGSTER_PG_PORT": str(server.port or 5432),
            "DAGSTER_PG_DB": server.database,
            "DAGSTER_PG_USERNAME": server.username,
            "DAGSTER_PG_PASSWORD": server.password or "",
        }.items():
            monkeypatch.setenv(name, value)
        shutil.copyfile(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
            assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 10
            assert instance.run_monitoring_enabled and instance.run_monitoring_max_runtime_seconds == 3600
            run = instance.create_run_for_job(dg.GraphDefinition("probe").to_job())
        engine = sa.create_engine(url)
        with engine.connect() as db:
            stored = set(db.execute(sa.text("select run_id from runs")).scalars())
        engine.dispose()
        assert stored == {run.run_id}


def test_the_deploy_instance_keeps_the_limits_and_monitoring_of_the_repository_instance() -> None:
    repository = yaml.safe_load((REPO_ROOT / "dagster_home" / "dagster.yaml").read_text())
    deploy = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    assert deploy["run_monitoring"] == repository["run_monitoring"]
    assert deploy["concurrency"]["pools"] == repository["concurrency"]["pools"]
    assert (
        deploy["concurrency"]["runs"]["tag_concurrency_limits"]
        == repository["concurrency"]["runs"]["tag_concurrency_limits"]
    )
