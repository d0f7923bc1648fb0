"""The weekly insight asset: written from a client's served marts by the model (the fake server) or the template,
stored in the app database, and shown by GET /results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import httpx
import jwt
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from api.main import create_app
from orchestration.assets.insights import INSIGHT_KEY, InsightConfig, weekly_insight_asset
from orchestration.assets.marts import mart_asset_key
from orchestration.definitions import defs
from orchestration.resources import LanguageModelResource, TallyResource
from orchestration.schedules import weekly_insight_schedule
from tally.background_server import serve_in_thread
from tests.api.conftest import JWT_SECRET
from tests.api.routes.test_results import expected_metrics
from tests.fake_openai import MODEL, FakeOpenAI, serve_fake_openai
from tests.results_data import DATA, build_duckdb
from warehouse.app_database import upgrade
from warehouse.app_tables import insights
from warehouse.serving import publish
from warehouse.vault import generate_key

OPENAI_KEY = "sk-insight-key-never-in-a-prompt"
WEEK = (date(2024, 3, 11), date(2024, 3, 17))
PRIOR_WEEK = (date(2024, 3, 4), date(2024, 3, 10))


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    with serve_fake_openai() as fake:
        yield fake


@pytest.fixture()
def tally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TallyResource:
    """The fixture's marts published for serving, and an empty app database; no model in the environment."""
    for name in ("TALLY_LLM_MODEL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    data_dir = tmp_path / "tally"
    data_dir.mkdir()
    with build_duckdb(str(data_dir / "warehouse.duckdb"), DATA) as warehouse:
        publish(warehouse, data_dir / "serving")
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    return TallyResource(data_dir=str(data_dir), app_database_url=url)


def materialize_insight(tally: TallyResource, model: LanguageModelResource) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("clients", ["acme", "globex"])
        return dg.materialize(
            [weekly_insight_asset],
            partition_key="acme",
            instance=instance,
            resources={"tally": tally, "language_model": model},
            run_config=dg.RunConfig(ops={"app__insights": InsightConfig(week_end=WEEK[1].isoformat())}),
        )


def results_insight(tally: TallyResource) -> dict:
    """The insight GET /results shows for acme's March 2024."""
    settings = tally.settings.model_copy(
        update={"jwt_secret": SecretStr(JWT_SECRET), "encryption_keys": SecretStr(generate_key())}
    )
    claims = {
        "sub": "u",
        "permissions": ["clients:view"],
        "companies": ["acme"],
        "exp": datetime.now(UTC).timestamp() + 60,
    }
    token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    with serve_in_thread(create_app(settings)) as url:
        response = httpx.get(
            f"{url}/api/clients/acme/results",
            params={"period_type": "month", "period_end": "2024-03-31"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    return response.json()["insight"]


def stored_figures(tally: TallyResource) -> dict:
    with tally.app_engine().connect() as db:
        [row] = db.execute(sa.select(insights)).mappings().all()
    return dict(row)


def test_the_model_writes_the_insight_from_the_weeks_figures(tally: TallyResource, fake_openai: FakeOpenAI) -> None:
    fake_openai.reset()
    fake_openai.answer("Spend held steady week over week; watch Brand Search, which stopped on March 15.")
    model = LanguageModelResource(llm_model=MODEL, base_url=fake_openai.url, timeout_seconds=5, max_retries=0)

    result = materialize_insight(tally, model)

    assert result.success
    [request] = fake_openai.requests
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert OPENAI_KEY not in request.raw and "globex" not in request.raw and "Berlin" not in request.raw
    row = stored_figures(tally)
    assert (row["source"], row["model"], row["period_start"], row["period_end"]) == ("llm", MODEL, *WEEK)
    expected = expected_metrics("acme", WEEK, PRIOR_WEEK)
    spend = next(m for m in row["figures"]["metrics"] if m["metric_key"] == "spend")
    assert (spend["value"], spend["prior_value"]) == (
        pytest.approx(expected["spend"]["value"]),
        pytest.approx(expected["spend"]["prior_value"]),
    )
    # The model was given exactly the figures stored with the insight, as data in the user message.
    assert json.loads(request.body["messages"][1]["content"]) == row["figures"]
    insight = results_insight(tally)
    assert insight["text"] == "Spend held steady week over week; watch Brand Search, which stopped on March 15."
    assert insight["source"] == "llm"
    assert insight["period"] == {"type": "week", "start": "2024-03-11", "end": "2024-03-17"}


@pytest.mark.parametrize("model_fails", [False, True], ids=["no-model", "model-fails"])
def test_without_a_working_model_the_template_writes_the_insight(
    tally: TallyResource, fake_openai: FakeOpenAI, model_fails: bool
) -> None:
    fake_openai.reset()
    fake_openai.fail(500)
    model = (
        LanguageModelResource(llm_model=MODEL, base_url=fake_openai.url, timeout_seconds=5, max_retries=0)
        if model_fails
        else LanguageModelResource()
    )

    result = materialize_insight(tally, model)

    assert result.success
    metadata = result.asset_materializations_for_node("app__insights")[0].metadata
    assert metadata["source"].value == "template"
    assert ("HTTP 500" in metadata["model_error"].value) == model_fails
    assert len(fake_openai.requests) == int(model_fails)
    spend = expected_metrics("acme", WEEK, PRIOR_WEEK)["spend"]
    insight = results_insight(tally)
    assert insight["source"] == "template"
    assert insight["text"].startswith("Week of 2024-03-11 to 2024-03-17: spend USD ")
    assert f"spend USD {spend['value']:,.2f}" in insight["text"]
    assert 'Largest spend: "Spring Sale" (meta_ads' in insight["text"]


def test_insight_asset_is_per_client_after_the_marts_and_scheduled_weekly() -> None:
    graph = defs.resolve_asset_graph()
    node = graph.get(INSIGHT_KEY)
    assert node.partitions_def.name == "clients"
    assert mart_asset_key("metric_daily") in node.parent_keys
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("clients", ["acme", "globex"])
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 30, 7, tzinfo=UTC)
        )
        requests = weekly_insight_schedule(context)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("acme", "insight-acme-2026-11-30"),
        ("globex", "insight-globex-2026-11-30"),
    ]
