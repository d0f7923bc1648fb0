"""The read-only tools the model answers questions with, their JSON schemas, and their dispatch.

A tool's arguments are validated like a request body; a bad argument (or one the tools do not have, such as a
company id) is answered to the model as an error it can correct, never run. Results go back as JSON data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.figures import CompanyFigures
from assistant.model import LanguageModel
from pipelines.registry import PLATFORMS
from tally.errors import InvalidRequest
from warehouse.query_values import SORT_COLUMNS, parse_period_end
from warehouse.results import PERIOD_TYPES

PeriodType = Literal[PERIOD_TYPES]  # type: ignore[valid-type]
RankMetric = Literal[tuple(column for column in SORT_COLUMNS if column != "campaign_name")]  # type: ignore[valid-type]
Platform = Literal[tuple(PLATFORMS)]  # type: ignore[valid-type]


class PeriodArgs(BaseModel):
    """A calendar period: the week, month, quarter or year that contains ``period_end``, up to that day."""

    model_config = ConfigDict(extra="forbid")

    period_type: PeriodType = Field(description="week (ISO, from Monday), month, quarter or year")
    period_end: str = Field(description="Last day of the period, YYYY-MM-DD; the period starts at its calendar start")

    def end(self) -> date:
        return parse_period_end(self.period_end)


class PeriodMetricsArgs(PeriodArgs):
    """Totals of every metric over the period, with the prior period, change in % and goal tracking."""


class TopCampaignsArgs(PeriodArgs):
    """Campaigns ranked by one metric over the period, with spend change against the prior period."""

    metric: RankMetric = Field(default="spend", description="The metric campaigns are ranked by")
    order: Literal["top", "bottom"] = Field(default="top", description="top: highest values first; bottom: lowest")
    limit: Annotated[int, Field(ge=1, le=20)] = 5
    platform: Platform | None = Field(default=None, description="Only this platform's campaigns")


class CampaignDailyArgs(PeriodArgs):
    """One campaign's spend on each day of the period, a series per platform with a campaign of that id."""

    campaign_id: Annotated[str, Field(min_length=1, max_length=255)] = Field(
        description="The campaign_id from top_campaigns"
    )
    platform: Platform | None = Field(
        default=None, description="Only this platform's campaign: ids are per platform, so two may share one"
    )


class GoalStatusArgs(PeriodArgs):
    """The client's goals for this kind of period, with the period's value and whether each is on track."""


def period_metrics(figures: CompanyFigures, args: PeriodMetricsArgs) -> dict[str, Any]:
    return figures.period_metrics(args.period_type, args.end())


def top_campaigns(figures: CompanyFigures, args: TopCampaignsArgs) -> dict[str, Any]:
    period = figures.period(args.period_type, args.end())
    sort_dir = "desc" if args.order == "top" else "asc"
    return figures.campaigns(period, args.metric, sort_dir, args.limit, args.platform)


def campaign_daily_spend(figures: CompanyFigures, args: CampaignDailyArgs) -> dict[str, Any]:
    period = figures.period(args.period_type, args.end())
    return figures.campaign_daily_spend(period, args.campaign_id, args.platform)


def goal_status(figures: CompanyFigures, args: GoalStatusArgs) -> dict[str, Any]:
    return figures.goal_status(args.period_type, args.end())


TOOLS: dict[str, tuple[type[BaseModel], Callable[[CompanyFigures, Any], dict[str, Any]]]] = {
    "period_metrics": (PeriodMetricsArgs, period_metrics),
    "top_campaigns": (TopCampaignsArgs, top_campaigns),
    "campaign_daily_spend": (CampaignDailyArgs, campaign_daily_spend),
    "goal_status": (GoalStatusArgs, goal_status),
}


def tool_specs() -> list[dict[str, Any]]:
    """The tools in the chat-completions ``tools`` format, their parameters from the argument models."""
    specs = []
    for name, (arguments, _run) in TOOLS.items():
        schema = arguments.model_json_schema()
        schema.pop("title", None)
        description = (arguments.__doc__ or "").strip()
        specs.append({"type": "function", "function": {"name": name, "description": description, "parameters": schema}})
    return specs


def run_tool(figures: CompanyFigures, name: str, raw_arguments: str) -> str:
    """One tool call's result as JSON text; an unknown tool or bad arguments give ``{"error": ...}``."""
    if name not in TOOLS:
        return to_json({"error": f"unknown tool {name!r}; the tools are: {', '.join(TOOLS)}"})
    arguments, run = TOOLS[name]
    try:
        parsed = arguments.model_validate_json(raw_arguments or "{}")
        return to_json(run(figures, parsed))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
        return to_json({"error": f"invalid arguments: {problems}"})
    except InvalidRequest as exc:
        return to_json({"error": exc.message})


def json_values(value: Any) -> Any:
    """``value`` as plain JSON values (dates as ISO strings, decimals as numbers), as insights and QBRs store it."""
    return json.loads(to_json(value))


def reply_on_data(model: LanguageModel, prompt: str, data: dict[str, Any]) -> str:
    """The model's text written from ``data``, sent as JSON after ``prompt`` (``ModelError`` when it fails)."""
    return model.reply([{"role": "system", "content": prompt}, {"role": "user", "content": to_json(data)}])


def to_json(value: Any) -> str:
    """Compact JSON of query results: dates as ISO strings, decimals as numbers."""
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
