"""The AI routes: questions about a company's results, and quarterly business reviews (DESIGN.md section 6).

Questions are answered by the model through read-only tools bound to the company in the URL. A QBR is written by
the model from the figures, or by a template when no model is configured, and stored with those figures. Both
carry their sources, and both have one deadline (``TALLY_ASK_DEADLINE_S``) for every model call they make.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import (
    AUTH_ERRORS,
    AppEngine,
    CurrentPrincipal,
    Db,
    LanguageModelDep,
    SettingsDep,
    UpdateCompany,
    ViewCompany,
)
from api.fields import Question, UtcDateTime
from api.results import LookbacksDep, MartsDep
from assistant.ask import answer_question
from assistant.deadline import Deadline
from assistant.figures import CompanyFigures
from assistant.qbr import llm_summary, qbr_figures, template_summary
from assistant.sources import cite
from tally.errors import ModelNotConfigured
from warehouse import insights as insight_store
from warehouse import qbrs as qbr_store
from warehouse.query_values import parse_day

router = APIRouter(prefix="/api/clients/{companyId}", tags=["ai"])
MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    502: {"description": "The language model's server failed or sent an unusable answer"},
    504: {
        "description": "The language model's server did not answer in time, or the whole answer was not ready "
        "within TALLY_ASK_DEADLINE_S (every model call, retry and tool round counts against it)"
    },
}


class SourcePeriod(BaseModel):
    type: Literal["week", "month", "quarter", "year"] | None = Field(
        description="The kind of calendar period; null for a QBR's window of three months"
    )
    start: dt.date
    end: dt.date


class FigureOut(BaseModel):
    table: Literal["metrics", "goals", "campaigns", "campaign_totals", "campaign_count", "daily_spend", "insight"] = (
        Field(
            description="Which rows of the result: metrics (one per metric, as GET /results), goals, campaigns, "
            "campaign_totals (every campaign of the period added up), campaign_count, daily_spend (one per "
            "platform and day) or insight"
        )
    )
    values: dict[str, Any] = Field(description="The row exactly as the tool returned it to the model")
    quoted: list[str] = Field(
        description="What of this row the text quotes: its numbers as the text writes them (rounded to the "
        "decimals shown, sign left to the words), and its campaign name or id"
    )


class SourceFreshnessOut(BaseModel):
    platform: str
    loaded_through: dt.date | None = Field(description="The last local day its loads had covered when it was read")
    settled_through: dt.date | None = Field(
        description="The last day outside the platform's restatement window (as GET /results' freshness)"
    )
    status: Literal["succeeded", "failed", "never"] = Field(description="Its last load, as GET /results' freshness")
    maturing: bool = Field(
        description="Whether the period read runs past settled_through: some of its days may still be restated"
    )


class SourceOut(BaseModel):
    tool: str = Field(
        description="period_metrics, top_campaigns, campaign_daily_spend, goal_status or latest_insight (QBRs); "
        "for a call the model got wrong, the name it sent"
    )
    arguments: dict[str, Any] = Field(
        description="The arguments the tool ran with, defaults filled in (period_type and period_end, platform, "
        "metric, order, limit, campaign_id); as sent when the call was refused"
    )
    period: SourcePeriod | None = Field(description="The period the tool read; null when it was refused")
    prior_period: SourcePeriod | None = Field(description="The period its changes compare with, if any")
    platforms: list[str] = Field(
        description="The platforms it read: the platform argument, else every connected platform of the kind "
        "it reads (ad platforms for campaigns, every platform for metrics and goals)"
    )
    metric: str | None = Field(description="The metric it ranked or read; null when it read every metric")
    figures: list[FigureOut] = Field(description="The rows it returned that the text quotes; empty when it quotes none")
    freshness: list[SourceFreshnessOut] = Field(
        description="How current each connected platform it read was at the time of the read"
    )
    error: str | None = Field(description="Why the call was not run (told to the model, which may correct it)")


SOURCES_DESCRIPTION = (
    "Every tool call behind the answer, in the order the model made them, each with its arguments, the rows of "
    "its result the answer quotes, and the freshness of the data it read"
)
UNSOURCED_DESCRIPTION = (
    "Numbers of the text (dates aside) that no source's rows or arguments hold: empty when every figure of the "
    "text can be checked against the sources"
)


class AskIn(BaseModel):
    question: Question = Field(
        description="A question about the client's results, 1 to 2,000 characters, without control characters"
    )


class AskOut(BaseModel):
    answer: str
    sources: list[SourceOut] = Field(description=SOURCES_DESCRIPTION)
    unsourced_numbers: list[str] = Field(description=UNSOURCED_DESCRIPTION)


class QbrPeriod(BaseModel):
    start: dt.date
    end: dt.date


class QbrOut(BaseModel):
    id: str
    date: dt.date = Field(description="The day the review was prepared; the client's last_qbr_date")
    summary: str
    source: Literal["llm", "template"] = Field(description="Who wrote the summary: the model or the template")
    model: str | None
    period: QbrPeriod = Field(description="The three full months reviewed")
    figures: dict[str, Any] = Field(description="The rollup figures the summary was written from")
    insight_id: str | None = Field(description="The weekly insight the review included, if any")
    created_by: str | None
    created_at: UtcDateTime
    sources: list[SourceOut] = Field(
        description="The reads the review was written from (each month's metrics, the top campaigns, the latest "
        "insight), each with the rows the summary quotes and the freshness of the data when it was prepared; "
        "empty for reviews stored before sources were kept"
    )
    unsourced_numbers: list[str] = Field(description=UNSOURCED_DESCRIPTION)


class QbrEnvelope(BaseModel):
    qbr: QbrOut


class QbrsOut(BaseModel):
    qbrs: list[QbrOut]


def qbr_out(row: dict[str, Any]) -> dict[str, Any]:
    """A stored QBR as the routes show it (a review stored before sources were kept shows none)."""
    return {
        **row,
        "period": {"start": row["period_start"], "end": row["period_end"]},
        "sources": row["sources"] or [],
        "unsourced_numbers": row["unsourced_numbers"] or [],
    }


@router.post(
    "/results/ask",
    response_model=AskOut,
    responses={
        **AUTH_ERRORS,
        422: {"description": "The question is missing, empty or longer than 2,000 characters"},
        503: {"description": "No language model is configured"},
        **MODEL_ERRORS,
    },
)
def ask(
    company_id: ViewCompany,
    body: AskIn,
    marts: MartsDep,
    app_engine: AppEngine,
    model: LanguageModelDep,
    settings: SettingsDep,
    lookbacks: LookbacksDep,
) -> AskOut:
    """Answer a question about the company's results from its own figures, read through the model's tools, with
    the sources of the answer; 504 when the whole answer takes longer than ``TALLY_ASK_DEADLINE_S``.

    The tools open and close their own reads, so no app-database transaction waits on the model.
    """
    if model is None:
        raise ModelNotConfigured()
    deadline = Deadline.start(settings.ask_deadline_s, "The answer")
    figures = CompanyFigures(marts, app_engine, company_id, lookbacks)
    answer = answer_question(model, figures, body.question, deadline)
    return AskOut.model_validate(
        {
            "answer": answer.text,
            "sources": answer.citation.sources,
            "unsourced_numbers": answer.citation.unsourced_numbers,
        }
    )


@router.post(
    "/results/prepare-qbr",
    status_code=201,
    response_model=QbrEnvelope,
    responses={
        **AUTH_ERRORS,
        400: {"description": "as_of is not a YYYY-MM-DD date, is before 2000-01-01 or is in the future"},
        **MODEL_ERRORS,
    },
)
def prepare_qbr(
    company_id: UpdateCompany,
    principal: CurrentPrincipal,
    marts: MartsDep,
    app_engine: AppEngine,
    model: LanguageModelDep,
    settings: SettingsDep,
    lookbacks: LookbacksDep,
    as_of: Annotated[
        str | None,
        Query(
            description="Review the 3 full months before this day's month, YYYY-MM-DD from 2000-01-01 to today "
            "(default: today)",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
) -> dict[str, Any]:
    """Review the last three full months and the latest insight, store the QBR with its sources and set the
    client's last QBR date; with a model, 504 when the review takes longer than ``TALLY_ASK_DEADLINE_S``.

    The figures are read and the summary written before the one short transaction that stores them: no
    transaction waits on the model, and a model failure stores nothing.
    """
    qbr_date = parse_day("as_of", as_of)
    deadline = Deadline.start(settings.ask_deadline_s, "The quarterly business review") if model else None
    with app_engine.connect() as db:
        insight = insight_store.latest_insight(db, company_id)
    read = qbr_figures(CompanyFigures(marts, app_engine, company_id, lookbacks), qbr_date, insight)
    summary = llm_summary(model, read.data, deadline) if model else template_summary(read.data)
    citation = cite(summary, read.reads)
    with app_engine.begin() as db:
        row = qbr_store.record_qbr(
            db,
            qbr_store.NewQbr(
                company_id=company_id,
                date=qbr_date,
                period_start=dt.date.fromisoformat(read.data["period"]["start"]),
                period_end=dt.date.fromisoformat(read.data["period"]["end"]),
                summary=summary,
                source="llm" if model else "template",
                model=model.model if model else None,
                figures=read.data,
                insight_id=insight["id"] if insight else None,
                created_by=principal.sub,
                sources=citation.sources,
                unsourced_numbers=citation.unsourced_numbers,
            ),
        )
    return {"qbr": qbr_out(row)}


@router.get("/qbrs", response_model=QbrsOut, responses=AUTH_ERRORS)
def list_qbrs(company_id: ViewCompany, db: Db) -> dict[str, Any]:
    """The company's quarterly business reviews, newest first."""
    return {"qbrs": [qbr_out(row) for row in qbr_store.list_qbrs(db, company_id)]}
