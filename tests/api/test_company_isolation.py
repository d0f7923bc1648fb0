"""A token for company A never sees company B's connections, results, goals, QBRs or backfill state, by any id.

Both companies are seeded through the API (B with marked names and numbers) over marts that hold both companies'
campaigns; then A's token calls every route of the app's route table under B's URL with B's real ids, and A's own
routes with B's ids in the path, the query and the body. No answer to A may carry anything of B's, and B's rows
must be exactly as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.api.conftest import COMPANY, OTHER_COMPANY, TokenMaker, seed_company
from tests.api.test_authorization import BODIES, PERMISSIONS
from warehouse.app_tables import client_profiles, connections, goals, qbrs, run_requests

B_NAME = "globex-private-account-name"
# B's campaigns in the marts fixture (tests/results_data.py): March 2024, ids x1 and x2.
B_CAMPAIGNS = ("Berlin", "Boston", '"x1"', '"x2"')
MARCH_2024 = {"period_type": "month", "period_end": "2024-03-31"}


@dataclass
class Companies:
    url: str
    a: httpx.Client
    b: httpx.Client
    b_ids: dict[str, str]

    def b_markers(self) -> list[str]:
        """Everything that would show B's data in an answer to A."""
        return [*self.b_ids.values(), B_NAME, "token-of-globex", *B_CAMPAIGNS]

    def assert_nothing_of_b(self, response: httpx.Response) -> None:
        leaked = [marker for marker in self.b_markers() if marker in response.text]
        assert not leaked, (response.request.method, str(response.request.url), leaked)


@pytest.fixture()
def companies(
    api_settings: Settings, app_engine: sa.Engine, published_marts: Path, make_token: TokenMaker
) -> Iterator[Companies]:
    """A and B seeded alike over the same marts; a client with A's token, and B's ids."""
    app = create_app(api_settings.model_copy(update={"data_dir": published_marts}), engine=app_engine)
    with serve_in_thread(app) as url:

        def client(company: str) -> httpx.Client:
            token = make_token(companies=[company])
            return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

        with client(COMPANY) as a, client(OTHER_COMPANY) as b:
            seed_company(a, COMPANY)
            b_ids = seed_company(b, OTHER_COMPANY, display_name=B_NAME)
            yield Companies(url, a, b, b_ids)


def b_rows(engine: sa.Engine) -> list[tuple]:
    """Every row B has in the app database, in a stable order."""
    with engine.connect() as db:
        return [
            tuple(row)
            for table in (connections, goals, qbrs, run_requests, client_profiles)
            for row in db.execute(
                sa.select(table).where(table.c.company_id == OTHER_COMPANY).order_by(*table.primary_key.columns)
            )
        ]


def test_every_route_under_b_is_not_found_for_a(companies: Companies, app_engine: sa.Engine) -> None:
    before = b_rows(app_engine)
    for method, path in sorted(PERMISSIONS):
        if "{companyId}" not in path:
            continue
        url = path.replace("{companyId}", OTHER_COMPANY).replace("{id}", companies.b_ids["connection"])
        response = companies.a.request(method, url, json=BODIES.get((method, path)))
        assert response.status_code == 404, (method, url, response.text)
        assert response.json() == {"detail": "Company not found"}
        companies.assert_nothing_of_b(response)
    assert b_rows(app_engine) == before


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"display_name": "renamed by A"}),
        ("DELETE", "", None),
        ("POST", "/test", None),
    ],
)
def test_b_connection_id_under_a_url_is_not_found(
    companies: Companies, app_engine: sa.Engine, method: str, suffix: str, body: dict | None
) -> None:
    before = b_rows(app_engine)
    url = f"/api/clients/{COMPANY}/connections/{companies.b_ids['connection']}{suffix}"
    response = companies.a.request(method, url, json=body)
    assert response.status_code == 404 and response.json()["detail"].startswith("Connection not found")
    companies.assert_nothing_of_b(response)
    assert b_rows(app_engine) == before


def test_a_reads_only_its_own_data(companies: Companies) -> None:
    a = f"/api/clients/{COMPANY}"
    reads = [
        companies.a.get(f"{a}/connections"),
        companies.a.get(f"{a}/connections/backfill"),
        companies.a.get(f"{a}/goals"),
        companies.a.get(f"{a}/qbrs"),
        companies.a.get(f"{a}/results", params=MARCH_2024),
        companies.a.get(f"{a}/results/campaigns", params=MARCH_2024),
        companies.a.get(f"{a}/results/campaigns/daily", params=MARCH_2024),
        companies.a.get(f"{a}/results/revisions"),
    ]
    for response in reads:
        assert response.status_code == 200, response.text
        companies.assert_nothing_of_b(response)
    campaigns = reads[5].json()["campaigns"]
    assert campaigns and {c["campaign_id"] for c in campaigns} <= {"m1", "g1", "m0"}


def test_b_reads_show_the_markers_a_is_checked_for(companies: Companies) -> None:
    """The markers are real: B's own answers carry each of them, so their absence from A's answers means something."""
    b = f"/api/clients/{OTHER_COMPANY}"
    seen = "".join(
        companies.b.get(f"{b}{path}", params=params).text
        for path, params in (
            ("/connections", None),
            ("/connections/backfill", None),
            ("/qbrs", None),
            ("/results/campaigns", MARCH_2024),
        )
    )
    assert all(marker in seen for marker in companies.b_markers() if marker != "token-of-globex")


@pytest.mark.parametrize(
    "params",
    [
        {"companyId": OTHER_COMPANY},
        {"company_id": OTHER_COMPANY},
        {**MARCH_2024, "company": OTHER_COMPANY},
    ],
)
def test_b_id_in_a_query_is_refused(companies: Companies, params: dict[str, str]) -> None:
    for path in ("/connections", "/results", "/results/campaigns", "/goals", "/qbrs"):
        response = companies.a.get(f"/api/clients/{COMPANY}{path}", params=params)
        assert response.status_code == 400 and "Unknown query parameter" in response.json()["detail"]
        companies.assert_nothing_of_b(response)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        # Connection bodies forbid fields they do not name: 422, before any id in them is looked at.
        ("PATCH", "/connections/{b_connection}", {"display_name": "x", "company_id": OTHER_COMPANY}, 422),
        ("POST", "/connections", {"platform": "ga4", "credentials": {}, "company_id": OTHER_COMPANY}, 422),
        # The goals body ignores unknown fields: A's own goals are replaced, B's stay.
        ("PUT", "/goals", {"goals": [], "company_id": OTHER_COMPANY}, 200),
        # A's own 30-day backfill from seeding is still pending: A's backfill is refused, whatever the body names.
        ("POST", "/connections/backfill", {"days": 60, "company_id": OTHER_COMPANY, "id": "{b_connection}"}, 409),
    ],
    ids=["rename", "connect", "goals", "backfill"],
)
def test_b_id_in_a_body_changes_nothing_of_b(
    companies: Companies, app_engine: sa.Engine, method: str, path: str, body: dict[str, object], status: int
) -> None:
    before = b_rows(app_engine)
    b_connection = companies.b_ids["connection"]
    url = f"/api/clients/{COMPANY}{path.format(b_connection=b_connection)}"
    body = {
        key: value.format(b_connection=b_connection) if isinstance(value, str) else value for key, value in body.items()
    }
    response = companies.a.request(method, url, json=body)
    assert response.status_code == status, response.text
    companies.assert_nothing_of_b(response)
    assert b_rows(app_engine) == before
    if status == 200:
        assert response.json() == {"goals": []}
        assert companies.b.get(f"/api/clients/{OTHER_COMPANY}/goals").json()["goals"] != []


def test_a_token_without_the_permission_is_403_under_b_as_under_a(
    companies: Companies, app_engine: sa.Engine, make_token: TokenMaker
) -> None:
    """Permission comes before reach (403 before 404), and says nothing of B: the same answer under A's URL."""
    before = b_rows(app_engine)
    view_only = {"Authorization": f"Bearer {make_token(permissions=['clients:view'], companies=[COMPANY])}"}
    for method, path in sorted(PERMISSIONS):
        if PERMISSIONS[(method, path)] != "clients:update":
            continue
        answers = []
        for company in (OTHER_COMPANY, COMPANY):
            url = path.replace("{companyId}", company).replace("{id}", companies.b_ids["connection"])
            response = httpx.request(
                method, companies.url + url, headers=view_only, json=BODIES.get((method, path)), timeout=30
            )
            assert response.status_code == 403, (method, url, response.text)
            companies.assert_nothing_of_b(response)
            answers.append(response.json())
        assert answers == [{"detail": "Missing permission: clients:update"}] * 2
    assert b_rows(app_engine) == before
