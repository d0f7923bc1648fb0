"""The AI routes: questions about a company's results, and quarterly business reviews (DESIGN.md section 6).

Questions are answered by the model through read-only tools bound to the company in the URL. A QBR is written by
the model from the figures, or by a template when no model is configured, and stored with those figures.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AUTH_ERRORS, AppEngine, CurrentPrincipal, Db, LanguageModelDep, UpdateCompany, ViewCompany
from api.fields import Question, UtcDateTime
from api.results import MartsDep
from assistant.ask import answer_question
from assistant.figures import CompanyFigures
from assistant.qbr import llm_summary, qbr_figures, template_summary
from tally.errors import ModelNotConfigured
from warehouse import insights as insight_store
from warehouse import qbrs as qbr_store
from warehouse.query_values import parse_day

router = APIRouter(prefix="/api/clients/{companyId}", tags=["ai"])
MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    502: {"description": "The language model's server failed or sent an unusable answer"},
    504: {"description": "The language model's server did not answer in time"},
}


class AskIn(BaseModel):
    question: Question = Field(
        description="A question about the client's results, 1 to 2,000 characters, without control characters"
    )


class AskOut(BaseModel):
    answer: str


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


class QbrEnvelope(BaseModel):
    qbr: QbrOut


class QbrsOut(BaseModel):
    qbrs: list[QbrOut]


def qbr_out(row: dict[str, Any]) -> dict[str, Any]:
    """A stored QBR as the routes show it."""
    return {**row, "period": {"start": row["period_start"], "end": row["period_end"]}}


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
    company_id: ViewCompany, body: AskIn, marts: MartsDep, app_engine: AppEngine, model: LanguageModelDep
) -> AskOut:
    """Answer a question about the company's results from its own figures, read through the model's tools.

    The tools open and close their own reads, so no app-database transaction waits on the model.
    """
    if model is None:
        raise ModelNotConfigured()
    return AskOut(answer=answer_question(model, CompanyFigures(marts, app_engine, company_id), body.question))


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
    as_of: Annotated[
        str | None,
        Query(
            description="Review the 3 full months before this day's month, YYYY-MM-DD from 2000-01-01 to today "
            "(default: today)",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
) -> dict[str, Any]:
    """Review the last three full months and the latest insight, store the QBR and set the client's last QBR date.

    The figures are read and the summary written before the one short transaction that stores them: no
    transaction waits on the model, and a model failure stores nothing.
    """
    qbr_date = parse_day("as_of", as_of)
    with app_engine.connect() as db:
        insight = insight_store.latest_insight(db, company_id)
    data = qbr_figures(CompanyFigures(marts, app_engine, company_id), qbr_date, insight)
    summary = llm_summary(model, data) if model else template_summary(data)
    with app_engine.begin() as db:
        row = qbr_store.record_qbr(
            db,
            qbr_store.NewQbr(
                company_id=company_id,
                date=qbr_date,
                period_start=dt.date.fromisoformat(data["period"]["start"]),
                period_end=dt.date.fromisoformat(data["period"]["end"]),
                summary=summary,
                source="llm" if model else "template",
                model=model.model if model else None,
                figures=data,
                insight_id=insight["id"] if insight else None,
                created_by=principal.sub,
            ),
        )
    return {"qbr": qbr_out(row)}


@router.get("/qbrs", response_model=QbrsOut, responses=AUTH_ERRORS)
def list_qbrs(company_id: ViewCompany, db: Db) -> dict[str, Any]:
    """The company's quarterly business reviews, newest first."""
    return {"qbrs": [qbr_out(row) for row in qbr_store.list_qbrs(db, company_id)]}
