"""Hostile and odd input: every answer is a clear 4xx with a JSON ``detail``, never a 5xx, and a refused write leaves
the app database exactly as it was.

Decisions these tests pin down:
- a body over ``TALLY_MAX_BODY_BYTES`` is 413, whether Content-Length says so, is absent (chunked) or lies;
- JSON must be strict UTF-8 JSON: duplicate keys, NaN/Infinity, nesting deeper than 32 levels are 400;
- display names and questions keep any Unicode text as given, but control characters and lone surrogates are
  refused with a 422 naming the character (a question may hold tabs and line breaks);
- a connection id that is not a UUID names no route (404, or 405 where the path is another route's);
- an unknown or repeated query parameter is 400, never silently the first or the last value.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.main import create_app
from tally.background_server import serve_in_thread
from tally.settings import Settings
from tests.api.conftest import COMPANY, TokenMaker
from tests.fake_openai import FakeOpenAI
from warehouse.app_tables import client_profiles, connections, goals, qbrs, run_requests

CAP = 16 * 1024
BASE = f"/api/clients/{COMPANY}"
JSON = {"Content-Type": "application/json"}
META = {"platform": "meta_ads", "credentials": {"access_token": "edge-token", "ad_account_id": "1001"}}


@pytest.fixture()
def api(
    api_settings: Settings, app_engine: sa.Engine, marts_and_model: dict[str, Any], make_token: TokenMaker
) -> Iterator[httpx.Client]:
    """The API with a 16 KiB body cap, the fixture's marts and a model; a client for COMPANY."""
    settings = api_settings.model_copy(update={**marts_and_model, "max_body_bytes": CAP})
    with (
        serve_in_thread(create_app(settings, engine=app_engine)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {make_token()}"}, timeout=30) as http,
    ):
        yield http


def app_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Every row of every table the API writes, in a stable order."""
    with engine.connect() as db:
        return [
            (table.name, *row)
            for table in (connections, goals, qbrs, run_requests, client_profiles)
            for row in db.execute(sa.select(table).order_by(*table.primary_key.columns))
        ]


def assert_refused(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx in ``statuses`` with a JSON body whose ``detail`` says what is wrong."""
    assert response.status_code in statuses, (response.status_code, response.text)
    body = response.json()
    assert body["detail"], body
    return body


def connect(api: httpx.Client) -> str:
    response = api.post(f"{BASE}/connections", json=META)
    assert response.status_code == 201, response.text
    return response.json()["connection"]["id"]


# --- body size ---------------------------------------------------------------------------------------------------


def oversized_connection() -> bytes:
    return json.dumps({**META, "display_name": "x" * (2 * CAP)}).encode()


def test_declared_oversized_body_is_413_and_stores_nothing(api: httpx.Client, app_engine: sa.Engine) -> None:
    response = api.post(f"{BASE}/connections", content=oversized_connection(), headers=JSON)
    assert assert_refused(response, 413) == {"detail": f"Request body is larger than {CAP} bytes"}
    assert app_rows(app_engine) == []


def test_chunked_oversized_body_without_content_length_is_413(api: httpx.Client, app_engine: sa.Engine) -> None:
    body = oversized_connection()
    chunks = (body[i : i + 512] for i in range(0, len(body), 512))
    response = api.post(f"{BASE}/connections", content=chunks, headers={"Content-Type": "application/json"})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_refused(response, 413)
    assert app_rows(app_engine) == []


def test_oversized_body_to_a_route_without_one_stores_nothing(api: httpx.Client, app_engine: sa.Engine) -> None:
    connect(api)
    before = app_rows(app_engine)
    for method, path in (("POST", "/connections/sync"), ("POST", "/results/prepare-qbr")):
        response = api.request(method, f"{BASE}{path}", content=b"{" + b" " * (2 * CAP) + b"}")
        assert_refused(response, 413)
    assert app_rows(app_engine) == before


def test_body_at_the_cap_is_read(api: httpx.Client) -> None:
    body = json.dumps({**META, "display_name": "n"}).encode()
    padded = body[:-1] + b" " * (CAP - len(body)) + b"}"
    assert len(padded) == CAP
    assert api.post(f"{BASE}/connections", content=padded, headers=JSON).status_code == 201


def test_a_lying_content_length_is_counted_not_believed(api_settings: Settings) -> None:
    """Behind a proxy that does not check Content-Length, the app counts what actually arrives."""
    app = create_app(api_settings.model_copy(update={"max_body_bytes": CAP}))
    chunks = [b'{"display_name": "', b"x" * CAP, b'"}']
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PATCH",
        "scheme": "http",
        "path": f"{BASE}/connections/00000000-0000-0000-0000-000000000000",
        "raw_path": b"",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", b"10"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"detail": f"Request body is larger than {CAP} bytes"}


def test_the_default_cap_is_one_mebibyte() -> None:
    assert Settings(_env_file=None).max_body_bytes == 1024 * 1024


# --- odd JSON ----------------------------------------------------------------------------------------------------

ODD_BODIES = {
    "duplicate keys": (b'{"platform": "meta_ads", "platform": "ga4", "credentials": {}}', 400, "duplicate key"),
    "NaN": (b'{"platform": "meta_ads", "credentials": {"access_token": NaN}}', 400, "NaN"),
    "Infinity": (b'{"platform": "meta_ads", "credentials": {}, "display_name": -Infinity}', 400, "Infinity"),
    "nested 40 deep": (
        b'{"platform": "meta_ads", "credentials": {"a": ' + b"[" * 40 + b"]" * 40 + b"}}",
        400,
        "nested deeper",
    ),
    "nested 5,000 deep": (b"[" * 5000 + b"]" * 5000, 400, None),
    "an integer of 5,000 digits": (b'{"platform": ' + b"9" * 5000 + b', "credentials": {}}', 400, None),
    "invalid UTF-8": (b'{"platform": "meta_ads", "credentials": {}, "display_name": "\xff\xfe"}', 400, None),
    "truncated": (b'{"platform": "meta_ads", "credentials": {', 422, None),
    "not JSON": (b"platform=meta_ads", 422, None),
    "a top-level array": (b'[{"platform": "meta_ads", "credentials": {}}]', 422, None),
    "a top-level string": (b'"meta_ads"', 422, None),
    "a top-level null": (b"null", 422, None),
    "a top-level number": (b"42", 422, None),
    "wrong types": (b'{"platform": ["meta_ads"], "credentials": "x", "display_name": 5}', 422, None),
    "empty": (b"", 422, None),
}


@pytest.mark.parametrize("name", list(ODD_BODIES))
def test_odd_json_is_a_clear_4xx_and_stores_nothing(api: httpx.Client, app_engine: sa.Engine, name: str) -> None:
    connection_id = connect(api)
    before = app_rows(app_engine)
    body, status, says = ODD_BODIES[name]
    headers = {"Content-Type": "application/json"}
    for method, path in (
        ("POST", "/connections"),
        ("PATCH", f"/connections/{connection_id}"),
        ("PUT", "/goals"),
        ("POST", "/connections/backfill"),
        ("POST", "/results/ask"),
    ):
        response = api.request(method, f"{BASE}{path}", content=body, headers=headers)
        detail = assert_refused(response, status, 400, 422)["detail"]
        if says and path == "/connections":
            assert response.status_code == status and says in detail
    assert app_rows(app_engine) == before


GOAL = '{"goals": [{"metric_key": "spend", "period_type": "month", "target": %s}]}'


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/connections/backfill", '{"days": 1e300}', 400),
        ("/connections/backfill", '{"days": "30"}', 400),
        ("/connections/backfill", '{"days": true}', 400),
        ("/connections/backfill", '{"days": 30.0}', 400),
        ("/connections/backfill", '{"days": -30}', 400),
        ("/connections/backfill", '{"days": 9223372036854775808}', 400),
        ("/goals", GOAL % "1e999", 422),  # read as Infinity by Python's json: refused by the goal's own check
        ("/goals", GOAL % ("1" + "0" * 400), 422),
        ("/goals", GOAL % "-1", 422),
        ("/goals", '{"goals": {"metric_key": "spend"}}', 422),
    ],
)
def test_huge_numbers_and_wrong_types_are_refused(
    api: httpx.Client, app_engine: sa.Engine, path: str, body: str, status: int
) -> None:
    connect(api)
    before = app_rows(app_engine)
    method = "PUT" if path == "/goals" else "POST"
    assert_refused(api.request(method, f"{BASE}{path}", content=body, headers=JSON), status)
    assert app_rows(app_engine) == before


# --- unicode and control characters ------------------------------------------------------------------------------

# Accents, CJK, right-to-left with direction marks, an emoji joined by a zero-width joiner, a zero-width space.
KEPT_NAMES = [
    "Café ☕ 東京",
    "עברית \u200fmixed\u200e direction",
    "👩\u200d💻 team",
    "Zero\u200bwidth",
    "ﷺ" * 10,
    "a" * 255,
]
REFUSED_NAMES = {
    "\x00": "U+0000",
    "red \x1b[31m": "U+001B",
    "tab\there": "U+0009",
    "del\x7f": "U+007F",
    "\x85": "U+0085",
}


@pytest.mark.parametrize("name", KEPT_NAMES)
def test_unicode_display_names_are_stored_as_given(api: httpx.Client, name: str) -> None:
    connection_id = connect(api)
    assert api.patch(f"{BASE}/connections/{connection_id}", json={"display_name": name}).status_code == 200
    listed = api.get(f"{BASE}/connections").json()["connections"]
    assert [c["display_name"] for c in listed if c["id"] == connection_id] == [name]


def test_control_characters_in_display_names_are_refused(api: httpx.Client, app_engine: sa.Engine) -> None:
    connection_id = connect(api)
    before = app_rows(app_engine)
    for name, code in REFUSED_NAMES.items():
        for method, path, body in (
            ("PATCH", f"/connections/{connection_id}", {"display_name": name}),
            ("POST", "/connections", {**META, "platform": "ga4", "display_name": name}),
        ):
            detail = assert_refused(api.request(method, f"{BASE}{path}", json=body), 422)["detail"]
            assert detail[0]["loc"] == ["body", "display_name"] and code in detail[0]["msg"], detail
    lone_surrogate = b'{"display_name": "broken \\ud800 pair"}'
    response = api.patch(f"{BASE}/connections/{connection_id}", content=lone_surrogate, headers=JSON)
    assert assert_refused(response, 422)["detail"][0]["loc"] == ["body", "display_name"]
    assert app_rows(app_engine) == before


def test_questions_keep_unicode_and_line_breaks_but_not_control_characters(
    api: httpx.Client, fake_model: FakeOpenAI
) -> None:
    fake_model.reset()
    question = "Wie lief der Umsatz?\n¿Y el gasto? 东京 👀"
    assert api.post(f"{BASE}/results/ask", json={"question": question}).status_code == 200
    sent = [message.get("content") or "" for request in fake_model.requests for message in request.body["messages"]]
    assert any(question in content for content in sent)
    for bad, code in (("\x00", "U+0000"), ("why\x1b[2J", "U+001B"), ("\x07 bell", "U+0007")):
        response = api.post(f"{BASE}/results/ask", json={"question": bad})
        assert code in assert_refused(response, 422)["detail"][0]["msg"]


# --- ids in the path ---------------------------------------------------------------------------------------------

NOT_CONNECTION_IDS = ["123", "not-a-uuid", "x" * 5000, "%00", "00000000-0000-0000-0000-00000000000g", "..%2F..%2Fx"]


@pytest.mark.parametrize("connection_id", NOT_CONNECTION_IDS, ids=lambda value: value[:20])
def test_connection_ids_that_are_not_uuids_name_no_route(
    api: httpx.Client, app_engine: sa.Engine, connection_id: str
) -> None:
    connect(api)
    before = app_rows(app_engine)
    for method, suffix in (("PATCH", ""), ("DELETE", ""), ("POST", "/test")):
        response = api.request(method, f"{BASE}/connections/{connection_id}{suffix}", json={"display_name": "x"})
        assert_refused(response, 404, 405)
    assert app_rows(app_engine) == before


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/connections", "GET, POST"),
        ("DELETE", "/goals", "GET, PUT"),
        ("PATCH", "/connections/sync", "POST"),
        ("GET", "/connections/6f9619ff-8b86-d011-b42d-00c04fc964ff", "PATCH, DELETE"),
    ],
)
def test_a_method_the_path_lacks_is_405_listing_every_method_it_has(
    api: httpx.Client, method: str, path: str, allow: str
) -> None:
    response = api.request(method, f"{BASE}{path}")
    assert assert_refused(response, 405) == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == allow


def test_an_unknown_uuid_is_connection_not_found(api: httpx.Client) -> None:
    response = api.delete(f"{BASE}/connections/6F9619FF-8B86-D011-B42D-00C04FC964FF")
    assert assert_refused(response, 404) == {"detail": "Connection not found"}


ODD_COMPANY_IDS = ["ac me", "acme;drop table", "a" * 300, "%00", "ácme", ".hidden", "-acme", "a" * 5000]


@pytest.mark.parametrize("company", ODD_COMPANY_IDS, ids=lambda value: value[:20])
def test_company_ids_with_odd_characters_are_not_found(
    api_url: str, app_engine: sa.Engine, make_token: TokenMaker, company: str
) -> None:
    """Even for an agency admin (companies ["*"]), an id that cannot be a company's is 404, before any query."""
    headers = {"Authorization": f"Bearer {make_token(companies=['*'])}"}
    for method, path, body in (("GET", "/connections", None), ("PUT", "/goals", {"goals": []})):
        response = httpx.request(method, f"{api_url}/api/clients/{company}{path}", headers=headers, json=body)
        assert assert_refused(response, 404) == {"detail": "Company not found"}
    assert app_rows(app_engine) == []


# --- query parameters --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/results", "period_type=week&period_type=month"),
        ("/results", "period_type=month&period_type=month"),
        ("/results/campaigns", "sort_by=spend&sort_dir=asc&sort_by=clicks"),
        ("/results/campaigns/daily", "platform=meta_ads&platform=ga4"),
        ("/results", "period_end=2024-03-31&period_end=2024-02-29"),
    ],
)
def test_repeated_query_parameters_are_400(api: httpx.Client, path: str, query: str) -> None:
    response = api.get(f"{BASE}{path}?{query}")
    detail = assert_refused(response, 400)["detail"]
    assert detail.startswith("Query parameter given more than once: ")
    assert query.split("=")[0] in detail


def test_repeated_query_parameter_on_a_write_stores_nothing(api: httpx.Client, app_engine: sa.Engine) -> None:
    response = api.post(f"{BASE}/results/prepare-qbr?as_of=2024-04-15&as_of=2024-07-15")
    assert "as_of" in assert_refused(response, 400)["detail"]
    assert app_rows(app_engine) == []


@pytest.mark.parametrize(
    "query",
    ["period_typ=week", "period_type=week&extra=1", "=x", "period_type[]=week", "%00=1"],
)
def test_unknown_query_parameters_are_400_naming_them(api: httpx.Client, query: str) -> None:
    detail = assert_refused(api.get(f"{BASE}/results?{query}"), 400)["detail"]
    assert detail.startswith("Unknown query parameter for this route: ")
    assert "period_end, period_type" in detail


@pytest.mark.parametrize(
    "query",
    ["period_type=", "period_type=WEEK", "period_end=2024-13-01", "period_end=9999-01-01", "period_end=" + "9" * 3000],
    ids=lambda value: value[:24],
)
def test_odd_query_values_are_400_naming_the_allowed_values(api: httpx.Client, query: str) -> None:
    detail = assert_refused(api.get(f"{BASE}/results?{query}"), 400)["detail"]
    assert "period_type must be one of" in detail or "period_end must" in detail
