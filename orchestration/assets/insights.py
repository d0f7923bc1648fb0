"""The weekly insight as a Dagster asset: one partition per client, written after the marts it reads.

Each run reads the client's last full week from the served marts (the same rollups as GET /results), has the
language model write a short insight from those figures, or the template when no model is configured or the
model fails, and stores it with its figures and model in the app database, where GET /results finds it.

The insight is partitioned by ``clients`` (every client). With clients split across shards the marts are one
asset per shard, partitioned by the shard's own clients, and Dagster maps partitions between two different
dynamic partitions definitions by no built-in mapping but "all of them" (an identity mapping would call every
other shard's client a missing upstream partition and refuse the insight's backfills). So a sharded insight
depends on every shard's marts as a whole, and the client-by-client lineage is the one-shard layout's only.
"""

from datetime import date
from typing import Any

import dagster as dg
from pydantic import Field

from assistant.figures import CompanyFigures
from assistant.insight import insight_record, last_full_week_end, template_insight, weekly_figures, weekly_insight
from assistant.model import LanguageModel
from orchestration.assets.marts import all_mart_asset_keys
from orchestration.assets.raw import OWNERS
from orchestration.partitions import CLIENT_SHARDS, clients_partitions_def
from orchestration.resources import LanguageModelResource, TallyResource
from tally.errors import ModelError
from warehouse import insights as insight_store
from warehouse.insights import NewInsight
from warehouse.results import today
from warehouse.serving import open_marts

INSIGHT_KEY = dg.AssetKey(["app", "insights"])
# One shard: the marts share the insight's ``clients`` partitions, client by client. Several: see the docstring.
MARTS_MAPPING = None if CLIENT_SHARDS == 1 else dg.AllPartitionMapping()


class InsightConfig(dg.Config):
    """Which week an insight run writes about."""

    week_end: str | None = Field(
        default=None,
        description="Last day of the week to write about, YYYY-MM-DD: a Sunday for a full ISO week, another day for "
        "the week so far (default: the Sunday ending the last full week)",
    )


@dg.asset(
    key=INSIGHT_KEY,
    description="A short weekly insight per client (what moved, why, what to watch) with the figures it used.",
    partitions_def=clients_partitions_def,
    deps=[dg.AssetDep(key, partition_mapping=MARTS_MAPPING) for key in all_mart_asset_keys()],
    group_name="insights",
    kinds={"openai", "python"},
    owners=OWNERS,
)
def weekly_insight_asset(
    context: dg.AssetExecutionContext,
    config: InsightConfig,
    tally: TallyResource,
    language_model: LanguageModelResource,
) -> dg.MaterializeResult:
    """Write the client's insight on its last full week into the app database."""
    company_id = context.partition_key
    week_end = date.fromisoformat(config.week_end) if config.week_end else last_full_week_end(today())
    marts = open_marts(tally.settings)
    try:
        data = weekly_figures(CompanyFigures(marts, tally.app_engine(), company_id), week_end)
    finally:
        marts.close()
    # No transaction is held while the model writes: it may take as long as the model's timeout.
    insight, model_error = write_insight(context, company_id, data, language_model.language_model())
    with tally.app_engine().begin() as db:
        insight_id = insight_store.insert_insight(db, insight)
    return dg.MaterializeResult(
        metadata={
            "insight_id": insight_id,
            "source": insight.source,
            "model": insight.model or "",
            "model_error": model_error,
            "period": f"{insight.period_start} to {insight.period_end}",
            "metrics": len(data["metrics"]),
        }
    )


def write_insight(
    context: dg.AssetExecutionContext, company_id: str, data: dict[str, Any], model: LanguageModel | None
) -> tuple[NewInsight, str]:
    """The insight by the model, or by the template when there is no model or it fails; and the model's error."""
    try:
        return weekly_insight(company_id, data, model), ""
    except ModelError as exc:
        # A weekly note is still worth having: the template writes it and the metadata says why.
        context.log.warning(f"model failed for {company_id}, insight written by the template: {exc.message}")
        return insight_record(company_id, data, template_insight(data), None), exc.message
