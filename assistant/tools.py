"""The read-only tools the model answers questions with, their JSON schemas, and their dispatch.

A tool's arguments are validated like a request body; a bad argument (or one the tools do not have, such as a
company id) is answered to the model as an error it can correct, never run. Results go back as JSON data, and
each call is kept as a ``Read`` (its rows by table and the freshness of the platforms it read): the answer's
sources.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.deadline import Deadline
from assistant.figures import CompanyFigures
from assistant.json_values import to_json
from assistant.model import LanguageModel
from assistant.sources import Read
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


def metric_tables(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {"metrics": result["metrics"]}


def campaign_tables(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A ranking's rows: its campaigns, the totals of every campaign of the period, and how many there were."""
    count = {"campaign_count": result["campaign_count"], "sorted_by": result["sorted_by"]}
    return {"campaigns": result["campaigns"], "campaign_totals": [result["totals"]], "campaign_count": [count]}


def daily_tables(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """One row per platform and day: ``{platform, date, spend}``."""
    points = result["daily_spend_by_platform"].items()
    return {"daily_spend": [{"platform": platform, **point} for platform, series in points for point in series]}


def goal_tables(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {"goals": result["goals"]}


@dataclass(frozen=True)
class Tool:
    """A tool: its arguments, what it runs, the rows of its result, the kind of platform it reads (None: every
    kind) and the metric it is about when its arguments do not name one (None: every metric)."""

    arguments: type[BaseModel]
    run: Callable[[CompanyFigures, Any], dict[str, Any]]
    tables: Callable[[dict[str, Any]], dict[str, list[dict[str, Any]]]]
    platform_kind: str | None = None
    metric: str | None = None


TOOLS: dict[str, Tool] = {
    "period_metrics": Tool(PeriodMetricsArgs, period_metrics, metric_tables),
    "top_campaigns": Tool(TopCampaignsArgs, top_campaigns, campaign_tables, platform_kind="ads"),
    "campaign_daily_spend": Tool(CampaignDailyArgs, campaign_daily_spend, daily_tables, "ads", "spend"),
    "goal_status": Tool(GoalStatusArgs, goal_status, goal_tables),
}


@dataclass(frozen=True)
class ToolRun:
    """One tool call: the JSON text the model reads, and the read it is kept as for the answer's sources."""

    content: str
    read: Read


def tool_specs() -> list[dict[str, Any]]:
    """The tools in the chat-completions ``tools`` format, their parameters from the argument models."""
    specs = []
    for name, tool in TOOLS.items():
        schema = tool.arguments.model_json_schema()
        schema.pop("title", None)
        description = (tool.arguments.__doc__ or "").strip()
        specs.append({"type": "function", "function": {"name": name, "description": description, "parameters": schema}})
    return specs


def run_tool(figures: CompanyFigures, name: str, raw_arguments: str) -> ToolRun:
    """One tool call's result as JSON text, and its read; an unknown tool or bad arguments give ``{"error": ...}``."""
    if name not in TOOLS:
        return refused(name, raw_arguments, f"unknown tool {name!r}; the tools are: {', '.join(TOOLS)}")
    tool = TOOLS[name]
    try:
        parsed = tool.arguments.model_validate_json(raw_arguments or "{}")
        result = tool.run(figures, parsed)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
        return refused(name, raw_arguments, f"invalid arguments: {problems}")
    except InvalidRequest as exc:
        return refused(name, raw_arguments, exc.message)
    content = to_json(result)
    values, arguments = json.loads(content), parsed.model_dump()
    platform = arguments.get("platform")
    freshness = figures.freshness(date.fromisoformat(values["period"]["end"]), platform, tool.platform_kind)
    read = Read(
        tool=name,
        arguments=arguments,
        period=values["period"],
        prior_period=values.get("prior_period"),
        platforms=[platform] if platform else [entry["platform"] for entry in freshness],
        metric=arguments.get("metric", tool.metric),
        tables=tool.tables(values),
        freshness=freshness,
    )
    return ToolRun(content, read)


def refused(name: str, raw_arguments: str, error: str) -> ToolRun:
    """A call that was not run: the model reads the error, the sources keep the call with it."""
    try:
        sent = json.loads(raw_arguments or "{}")
    except ValueError:
        sent = None
    return ToolRun(to_json({"error": error}), Read(name, sent if isinstance(sent, dict) else {}, error=error))


def reply_on_data(model: LanguageModel, prompt: str, data: dict[str, Any], deadline: Deadline | None = None) -> str:
    """The model's text written from ``data``, sent as JSON after ``prompt`` (``ModelError`` when it fails)."""
    return model.reply([{"role": "system", "content": prompt}, {"role": "user", "content": to_json(data)}], deadline)
