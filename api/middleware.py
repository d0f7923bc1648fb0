"""The request middleware: gives each request its id, returns it in ``X-Request-ID``, and as the response's last
byte goes out logs the request's line and counts it in the metrics.

A pure ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``: that one runs the app in another task,
which costs more per request and hides the request id's context variable from the route.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import COMPANY_ID
from api.metrics import ApiMetrics
from api.request_log import log_request
from tally.request_context import REQUEST_ID

REQUEST_ID_HEADER = b"x-request-id"
# An id the caller sends is kept when it is a plain token (a UUID, a trace id); anything else is replaced, so a
# log line never carries what a caller typed there.
ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "unmatched"


def incoming_request_id(scope: Scope) -> str | None:
    """The caller's ``X-Request-ID`` when it is an acceptable id."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            return text if ACCEPTED_REQUEST_ID.match(text) else None
    return None


def route_template(scope: Scope) -> str | None:
    """The template of the route that served the request (``/api/clients/{companyId}/results``), None if none."""
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None)


class RequestObserver:
    """Request id in, ``X-Request-ID`` out, then one log line and the request's metrics."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        status = 500
        started = time.perf_counter()
        logged = False

        def observe() -> None:
            """The request's log line and metrics, once: as its last byte goes out, or when the app ends without
            sending one."""
            nonlocal logged
            if logged:
                return
            logged = True
            seconds = time.perf_counter() - started
            route = route_template(scope)
            company_id = scope.get("path_params", {}).get("companyId") if route else None
            if company_id is not None and not COMPANY_ID.match(company_id):
                company_id = None  # not an id the API accepts: whatever the caller put in the path stays out
            log_request(request_id, scope["method"], route, company_id, status, seconds)
            self.metrics.observe_request(scope["method"], route or UNMATCHED, status, seconds)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Logged before the last byte is sent, so a caller that has its answer finds its line in the
                # log (the clean-up of the route's dependencies runs after the answer, and is not waited for).
                observe()
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            observe()
            REQUEST_ID.reset(token)
