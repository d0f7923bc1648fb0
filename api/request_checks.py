"""What every request must be before a route reads it: a body within the size cap, strict JSON, each query
parameter given once. Each failure is a 4xx whose detail says what is wrong, answered before anything is stored.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tally.errors import InvalidRequest

# Answers any route may give, documented on every operation beside its own.
REQUEST_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "An unknown or repeated query parameter, or a body that is not strict UTF-8 JSON"},
    413: {"description": "The request body is larger than TALLY_MAX_BODY_BYTES"},
}
# Our bodies nest three levels deep (goals → list → goal); anything far deeper is not a request we understand.
MAX_JSON_DEPTH = 32


class BodyTooLarge(HTTPException):
    """The body passed the cap while it was read. A Starlette HTTPException, so FastAPI lets it through."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body is larger than {max_bytes} bytes")


class BodySizeLimit:
    """ASGI middleware answering 413 to a body over ``max_bytes``.

    A declared Content-Length over the cap is refused before the app runs. Otherwise the bytes are counted as
    they arrive, so a chunked body or a Content-Length that lies cannot get past it either.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = BodyTooLarge(self.max_bytes)
            await JSONResponse({"detail": error.detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted_receive, send)


async def well_formed_request(request: Request) -> None:
    """App-wide dependency: only the route's own query parameters, each at most once, and a JSON body without what
    FastAPI would read too leniently (duplicate keys, NaN, Infinity, deep nesting); else a 400 naming the problem.
    """
    check_query(request)
    body = await request.body()
    if body and "json" in request.headers.get("content-type", "json"):
        check_strict_json(body)


def check_query(request: Request) -> None:
    """``InvalidRequest`` for a query parameter the route does not take, or one given more than once."""
    keys = [key for key, _ in request.query_params.multi_items()]
    route = request.scope.get("route")
    accepted = query_names(route.dependant) if route else set()
    unknown = sorted(set(keys) - accepted)
    if unknown:
        takes = f"it takes {', '.join(sorted(accepted))}" if accepted else "it takes none"
        raise InvalidRequest(f"Unknown query parameter for this route: {_quoted(unknown)} ({takes})")
    if twice := repeated(keys):
        raise InvalidRequest(f"Query parameter given more than once: {_quoted(twice)}")


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route reads, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= query_names(dependency)
    return names


def check_strict_json(body: bytes) -> None:
    """``InvalidRequest`` unless the body is UTF-8 JSON without duplicate keys, NaN, Infinity or deep nesting."""
    try:
        value = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise InvalidRequest("Request body is not valid UTF-8") from None
    except RecursionError:
        raise InvalidRequest(f"JSON body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"Request body is not valid JSON: {error.msg} at position {error.pos}") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise InvalidRequest(f"Request body is not valid JSON: {error}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise InvalidRequest(f"JSON body is nested deeper than {MAX_JSON_DEPTH} levels")


def repeated(names: list[str]) -> list[str]:
    """The names that occur more than once, sorted; counted in one pass, so a body of 100,000 keys stays cheap."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if twice := repeated([key for key, _ in pairs]):
        raise ValueError(f"duplicate key in a JSON object: {', '.join(twice)}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value``, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level <= MAX_JSON_DEPTH:
            stack.extend((child, level + 1) for child in children)
    return deepest
