"""Contract fuzzing: schemathesis calls every operation of the app's own OpenAPI document with generated input.

The calls carry a valid token for a seeded company (marts, a connection, goals, a QBR and a backfill), so they
reach the code behind validation. Every answer must be documented and match its schema, and none may be a 5xx.

The document is read at collection from an app that is built but not served, and the calls go over loopback HTTP
to a served one: ``schemathesis.pytest.from_fixture`` would read it from a fixture, but schemathesis 4.32 sets
``node._nodeid`` there, which pytest 9.2 no longer has.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
# example database, so no files are left in the repository.
FUZZ_CONFIG = {
    "parameters": {"companyId": COMPANY},
    "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
    # A schema-valid request may still break a rule the schema cannot say (a date in the future, a connection
    # test that fails, a backfill while one runs): those are documented 400s and 409s, not rejected valid data.
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 403, 404, 409]}},
    "operations": [
        {
            # JSON Schema cannot say "one goal per metric and period type": that rule answers 422.
            "include-path": "/api/clients/{companyId}/goals",
            "include-method": "PUT",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 403, 404, 409, 422]}},
        }
    ],
}


def openapi_document() -> dict[str, Any]:
    """The app's own OpenAPI document, from an app that is built but never served (no I/O)."""
    settings = Settings(_env_file=None, encryption_keys=SecretStr(generate_key()), jwt_secret=SecretStr(JWT_SECRET))
    return create_app(settings, engine=sa.create_engine("sqlite://")).openapi()


# Hypothesis keeps caches (Unicode tables, constants of our modules) from the moment the tests are collected: in
# the temporary folder, never in the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tally-hypothesis")
schema = from_dict(openapi_document(), config=schemathesis.Config.from_dict(FUZZ_CONFIG))


@pytest.fixture()
def seeded_api(
    api_settings: Settings, app_engine: sa.Engine, marts_and_model: dict[str, Any], make_token: TokenMaker
) -> Iterator[tuple[str, dict[str, str]]]:
    """The API on loopback over a seeded company, with a model (so /results/ask is not a 503); its URL and the
    headers of a token for that company."""
    app = create_app(api_settings.model_copy(update=marts_and_model), engine=app_engine)
    headers = {"Authorization": f"Bearer {make_token()}"}
    with serve_in_thread(app) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        seed_company(http, COMPANY)
        yield url, headers


@schema.parametrize()
# One seeded API per operation, shared by its examples on purpose: state they leave is input for the next.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_keeps_its_contract(case: schemathesis.Case, seeded_api: tuple[str, dict[str, str]]) -> None:
    url, headers = seeded_api
    case.call_and_validate(base_url=url, headers=headers)
