"""The one place errors become HTTP responses, always as ``{"detail": ...}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from tally.errors import AuthenticationFailed, TallyError

log = logging.getLogger("tally.api")


async def tally_error(request: Request, exc: TallyError) -> JSONResponse:
    """A domain error, with the status its class carries."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationFailed) else None
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape without the offending input, which may be a credential."""
    detail = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type", "")}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own errors (404, 405, 413); a 405 lists in ``Allow`` every method the path has, not one route's."""
    if exc.status_code == 405:
        exc = HTTPException(405, exc.detail, headers={"Allow": ", ".join(allowed_methods(request))})
    return await http_exception_handler(request, exc)


def allowed_methods(request: Request) -> list[str]:
    """The methods some route fully matches at the request's path (FastAPI makes one route per method)."""
    return [
        method
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in request.app.routes)
    ]


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged by type, route and request id only (its text may hold anything), answered without a trace.

    This handler runs outside the request middleware (Starlette calls it from its outermost layer), so the
    request id is read from the request's state and put on the answer here.
    """
    request_id = getattr(request.state, "request_id", None)
    route = getattr(request.scope.get("route"), "path_format", None)
    fields = {"error": type(exc).__name__, "method": request.method, "route": route, "request_id": request_id}
    log.error("unhandled error", extra={"fields": fields})
    headers = {"X-Request-ID": request_id} if request_id else None
    return JSONResponse({"detail": "Internal server error"}, status_code=500, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on the app."""
    app.add_exception_handler(TallyError, tally_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error)
