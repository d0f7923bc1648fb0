"""Every route answers 401, 401, 401, 403, 404 to the five kinds of wrong caller, in that order of checks.

The route list is read from the app itself, so a new route cannot be added without being covered here.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.main import create_app
from tally.settings import Settings
from tests.api.conftest import COMPANY, JWT_SECRET, OTHER_COMPANY, TokenMaker

# What each route needs; a route of the app missing here fails test_every_route_is_covered.
PERMISSIONS = {
    ("GET", "/api/clients/platforms"): None,
    ("GET", "/api/clients/{companyId}/connections"): "clients:view",
    ("POST", "/api/clients/{companyId}/connections"): "clients:update",
    ("PATCH", "/api/clients/{companyId}/connections/{id}"): "clients:update",
    ("DELETE", "/api/clients/{companyId}/connections/{id}"): "clients:update",
    ("POST", "/api/clients/{companyId}/connections/{id}/test"): "clients:update",
    ("POST", "/api/clients/{companyId}/connections/sync"): "clients:update",
    ("POST", "/api/clients/{companyId}/connections/backfill"): "clients:update",
    ("GET", "/api/clients/{companyId}/connections/backfill"): "clients:view",
    ("GET", "/api/clients/{companyId}/results"): "clients:view",
    ("GET", "/api/clients/{companyId}/results/campaigns"): "clients:view",
    ("GET", "/api/clients/{companyId}/results/campaigns/daily"): "clients:view",
    ("GET", "/api/clients/{companyId}/results/revisions"): "clients:view",
    ("GET", "/api/clients/{companyId}/goals"): "clients:view",
    ("PUT", "/api/clients/{companyId}/goals"): "clients:update",
    ("POST", "/api/clients/{companyId}/results/ask"): "clients:view",
    ("POST", "/api/clients/{companyId}/results/prepare-qbr"): "clients:update",
    ("GET", "/api/clients/{companyId}/qbrs"): "clients:view",
}
BODIES = {
    ("POST", "/api/clients/{companyId}/connections"): {"platform": "meta_ads", "credentials": {}},
    ("PATCH", "/api/clients/{companyId}/connections/{id}"): {"display_name": "x"},
    ("POST", "/api/clients/{companyId}/connections/backfill"): {"days": 30},
    ("PUT", "/api/clients/{companyId}/goals"): {"goals": []},
    ("POST", "/api/clients/{companyId}/results/ask"): {"question": "How did spend move?"},
}
ROUTES = sorted(PERMISSIONS)


def api_routes(settings: Settings) -> set[tuple[str, str]]:
    """Every API route of the app, read from the OpenAPI document the app builds from its route table."""
    app = create_app(settings.model_copy(update={"demo": True}))
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }


def routing_table(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """Every API route the app dispatches to, hidden from OpenAPI or not (FastAPI nests included routers)."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, APIRoute) and route.path_format.startswith("/api/"):
            found |= {(method, route.path_format) for method in route.methods}
        elif hasattr(route, "original_router"):
            found |= routing_table(route.original_router.routes)
    return found


def test_every_route_is_covered(settings: Settings) -> None:
    assert api_routes(settings) == set(PERMISSIONS)
    app = create_app(settings.model_copy(update={"demo": True}))
    assert routing_table(app.routes) == set(PERMISSIONS)


def call(api_url: str, route: tuple[str, str], token: str | None, company: str = COMPANY) -> httpx.Response:
    method, path = route
    url = api_url + path.replace("{companyId}", company).replace("{id}", "00000000-0000-0000-0000-000000000000")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, url, headers=headers, json=BODIES.get(route), timeout=30)


def unusable_tokens(make_token: TokenMaker) -> dict[str, str | None]:
    """Tokens that must each be 401: none, expired, wrongly signed, and the forms a forger might try."""
    claims = {"sub": "user-1", "permissions": ["clients:view", "clients:update"], "companies": [COMPANY]}
    year_2100 = 4102444800
    return {
        "no token": None,
        "expired": make_token(expires_in=timedelta(seconds=-5)),
        "wrongly signed": make_token(secret="another-secret-" * 3),
        "not a JWT": "not.a.jwt",
        "unsigned (alg none)": jwt.encode({**claims, "exp": year_2100}, None, algorithm="none"),
        "without exp": jwt.encode(claims, JWT_SECRET, algorithm="HS256"),
        "permissions not a list": jwt.encode({**claims, "permissions": "clients:view", "exp": year_2100}, JWT_SECRET),
    }


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_wrong_callers_are_refused(api_url: str, make_token: TokenMaker, route: tuple[str, str]) -> None:
    for kind, token in unusable_tokens(make_token).items():
        response = call(api_url, route, token)
        assert response.status_code == 401, (kind, response.text)
        assert isinstance(response.json()["detail"], str)
    permission = PERMISSIONS[route]
    if permission is None:
        return
    others = [p for p in ("clients:view", "clients:update") if p != permission]
    for permissions in (others, []):
        response = call(api_url, route, make_token(permissions=permissions))
        assert response.status_code == 403 and permission in response.json()["detail"]
    for companies in ([OTHER_COMPANY], []):
        response = call(api_url, route, make_token(companies=companies))
        assert response.status_code == 404 and response.json() == {"detail": "Company not found"}


def test_agency_admin_reaches_every_company(api_url: str, make_token: TokenMaker) -> None:
    response = call(api_url, ("GET", "/api/clients/{companyId}/connections"), make_token(companies=["*"]), "anyco")
    assert response.status_code == 200


def test_unknown_route_and_bad_body_use_fastapi_error_shape(api_url: str, make_token: TokenMaker) -> None:
    response = httpx.get(f"{api_url}/api/nothing-here")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}
    response = httpx.post(
        f"{api_url}/api/clients/{COMPANY}/connections",
        headers={"Authorization": f"Bearer {make_token()}"},
        json={"platform": "meta_ads", "credentials": "secret-value-xyz"},
    )
    assert response.status_code == 422
    assert "secret-value-xyz" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "credentials"]


def test_openapi_documents_every_route_and_docs_render(api_url: str) -> None:
    document = httpx.get(f"{api_url}/openapi.json").json()
    for method, path in PERMISSIONS:
        operation = document["paths"][path][method.lower()]
        assert any(code.startswith("2") for code in operation["responses"])
        success = next(r for c, r in operation["responses"].items() if c.startswith("2"))
        assert "$ref" in str(success["content"]["application/json"]["schema"])
    assert httpx.get(f"{api_url}/docs").status_code == 200
