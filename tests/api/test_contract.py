"""Contract fuzzing: schemathesis calls every operation of the app's own OpenAPI document with generated input.

The calls carry a valid token for a seeded company (marts, a connection, goals, a QBR and a backfill), so they
reach the code behind validation. Every answer must be documented and match its schema, none may be a 5xx, and a
schema-valid request must get the status the api-reference gives that case (``contract_status``).

The document is read at collection from an app that is built but not served, and the calls go over loopback HTTP
to a served one: ``schemathesis.pytest.from_fixture`` would read it from a fixture, but schemathesis 4.32 sets
``node._nodeid`` there, which pytest 9.2 no longer has.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from pydantic import SecretStr
from schemathesis.openapi import from_dict

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.api.conftest import COMPANY, JWT_SECRET, TokenMaker, seed_company
from warehouse.vault import generate_key

# Bounded so the whole run stays near a minute on a small machine; deterministic so a failure reproduces, and no
# example database, so no files are left in the repository. Schema-valid input is judged by ``contract_status``
# below, which says the one status (or the two, where the emulator decides) each case must get; schemathesis's own
# acceptance check, which can only list statuses per operation, is off. Every route ignores a query parameter it
# does not name (FastAPI's way; a product may add a cache-buster), so adding one does not make a request invalid:
# with such mutations allowed, an example whose only mutation was an unknown parameter expected a 4xx.
FUZZ_CONFIG = {
    "parameters": {"companyId": COMPANY},
    "generation": {"max-examples": 25, "deterministic": True, "database": "none", "allow-extra-parameters": False},
    "phases": {"stateful": {"enabled": False}},
    "checks": {"positive_data_acceptance": {"enabled": False}},
}
PLATFORMS = ("meta_ads", "google_ads", "tiktok_ads", "shopify", "ga4")
BACKFILL_DAYS = (30, 60, 90)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A day later than today where the day begins first (UTC+14) is in the future everywhere.
EARLIEST_TIME_ZONE = ZoneInfo("Etc/GMT-14")


def openapi_document() -> dict[str, Any]:
    """The app's own OpenAPI document, from an app that is built but never served (no I/O)."""
    settings = Settings(_env_file=None, encryption_keys=SecretStr(generate_key()), jwt_secret=SecretStr(JWT_SECRET))
    return create_app(settings, engine=sa.create_engine("sqlite://")).openapi()


# Hypothesis keeps caches (Unicode tables, constants of our modules) from the moment the tests are collected: in
# the temporary folder, never in the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tally-hypothesis")
schema = from_dict(openapi_document(), config=schemathesis.Config.from_dict(FUZZ_CONFIG))


@dataclass
class Seeded:
    """The served API over a seeded company, and what the seeding (and the examples since) left there."""

    url: str
    headers: dict[str, str]
    connection_id: str
    history_start: dt.date
    connected_platforms: set[str] = field(default_factory=lambda: {"meta_ads"})
    connection_deleted: bool = False


@pytest.fixture()
def seeded_api(
    api_settings: Settings, app_engine: sa.Engine, marts_and_model: dict[str, Any], make_token: TokenMaker
) -> Iterator[Seeded]:
    """The API on loopback over a seeded company (a Meta connection, goals, a QBR, a pending 30-day backfill),
    with a model (so /results/ask is not a 503)."""
    app = create_app(api_settings.model_copy(update=marts_and_model), engine=app_engine)
    headers = {"Authorization": f"Bearer {make_token()}"}
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        ids = seed_company(http, COMPANY)
        yield Seeded(url, headers, ids["connection"], api_settings.history_start)


def day_status(value: object, ok: int, first_day: dt.date) -> set[int]:
    """What a day parameter must get: 400 unless it is a YYYY-MM-DD date not in the future anywhere on Earth, and
    ``ok`` from ``first_day`` (the first day Tally loads) to today. The contract sets no earliest day, so an earlier
    one may be ``ok`` or 400 (never a 5xx: the server-error check stays on)."""
    if value is None:
        return {ok}
    if not isinstance(value, str) or not ISO_DATE.match(value):
        return {400}
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return {400}
    if day > dt.datetime.now(EARLIEST_TIME_ZONE).date():
        return {400}
    return {ok} if day >= first_day else {ok, 400}


def one_goal_per_metric_and_period(body: dict[str, Any]) -> bool:
    keys = [(goal["metric_key"], goal["period_type"]) for goal in body["goals"]]
    return len(keys) == len(set(keys))


def contract_status(seeded: Seeded, case: schemathesis.Case) -> set[int]:
    """The status a schema-valid request must get, from the api-reference and the seeded state. A set of two only
    where the generated credentials decide (their schema and the platform's test are not the oracle's to re-do) and
    for days before the first loaded day, which the contract leaves open."""
    query, body = case.query or {}, case.body
    connection = (case.path_parameters or {}).get("id")
    seeded_connection = connection == seeded.connection_id
    match case.method.upper(), case.path.removeprefix("/api/clients"):
        case "GET", ("/healthz" | "/readyz"):  # the served API is up and its databases answer
            return {200}
        case "GET", ("/platforms" | "/{companyId}/connections" | "/{companyId}/connections/backfill"):
            return {200}
        case "GET", ("/{companyId}/goals" | "/{companyId}/qbrs"):
            return {200}
        case "GET", (
            "/{companyId}/results" | "/{companyId}/results/campaigns" | "/{companyId}/results/campaigns/daily"
        ):
            if "currency" in query:  # the seeded warehouse holds no exchange rates: no currency converts
                return {400}
            return day_status(query.get("period_end"), 200, seeded.history_start)
        case "GET", "/{companyId}/results/revisions":
            return day_status(query.get("since"), 200, seeded.history_start)
        case "POST", "/{companyId}/connections":
            if body["platform"] not in PLATFORMS:
                return {400}
            # Credentials that fail the platform's schema or its test are 400; a platform already connected is 409.
            return {400, 409} if body["platform"] in seeded.connected_platforms else {400, 201}
        case "PATCH", "/{companyId}/connections/{id}":
            return {200 if seeded_connection else 404}
        case "DELETE", "/{companyId}/connections/{id}":
            return {200 if seeded_connection else 404}
        case "POST", "/{companyId}/connections/{id}/test":
            return {200 if seeded_connection and not seeded.connection_deleted else 404}
        case "POST", "/{companyId}/connections/sync":
            return {202}
        case "POST", "/{companyId}/connections/backfill":
            # The seeded 30-day backfill is still pending: a valid one is refused as in progress.
            days = body.get("days") if isinstance(body, dict) else None
            return {409 if type(days) is int and days in BACKFILL_DAYS else 400}
        case "PUT", "/{companyId}/goals":
            return {200 if one_goal_per_metric_and_period(body) else 422}
        case "POST", "/{companyId}/results/ask":
            return {200}
        case "POST", "/{companyId}/results/prepare-qbr":
            return day_status(query.get("as_of"), 201, seeded.history_start)
    raise AssertionError(f"no contract status for {case.method} {case.path}: add it to contract_status")


def answers_as_the_contract_says(seeded: Seeded) -> Callable[..., None]:
    """A schemathesis check: a schema-valid request gets exactly the status ``contract_status`` says."""

    def check(ctx: Any, response: Any, case: schemathesis.Case) -> None:
        if case.meta is None or not case.meta.generation.mode.is_positive:
            return
        expected = contract_status(seeded, case)
        assert response.status_code in expected, (
            f"{case.method} {case.formatted_path} {case.query} answered {response.status_code}, "
            f"the contract says {sorted(expected)}: {response.text[:300]}"
        )
        if case.method.upper() == "POST" and case.path.endswith("/connections") and response.status_code == 201:
            seeded.connected_platforms.add(case.body["platform"])
        if case.method.upper() == "DELETE" and response.status_code == 200:
            seeded.connection_deleted = True

    return check


@schema.parametrize()
# One seeded API per operation, shared by its examples on purpose: state they leave is input for the next.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_keeps_its_contract(case: schemathesis.Case, seeded_api: Seeded) -> None:
    case.call_and_validate(
        base_url=seeded_api.url,
        headers=seeded_api.headers,
        additional_checks=[answers_as_the_contract_says(seeded_api)],
    )
