"""Whole answers of the results routes, remembered per worker and keyed by everything they are made of.

A cached ``/results`` answer still cost a worker three thread-pool hops (the app-database transaction in and
out, the route), four app-database queries (goals, loaded days, the latest insight, connected platforms), a
DuckDB cursor and the response model: measured at 2.7 ms of CPU against 0.7 ms for the authenticated static
route ``/api/clients/platforms``, so a worker served a quarter as many. Those inputs change rarely, and when
they do, something cheap to read changes with them:

- the company's mart rows: its published version folder (``CURRENT``), which a publish replaces and never
  writes again;
- its app-database rows (connections, goals, insights, run requests): its ``company_changes`` counter, bumped by
  database triggers on every write, whichever process makes it (migration 0009);
- the default ``period_end`` and anything else dated: today's date (UTC);
- with ``?currency=``, the exchange rates its conversions read (``marts.fx_rates``, no company's): their
  published version folder, which each load of the rates replaces (``warehouse.rates``).

So the key is (path, query string, published version, rates version, change counter, today); the query string
holds the currency asked for, and the rates version is "" for a request without one (it reads no rates). The
reads happen before the route runs, so an answer computed while a change lands is kept under the older key, never
served for the newer. Every worker reads them on every request, so a publish, a goal change, a new connection or
new rates are seen by each on its next one. A results route that comes to read another app-database table must
add it to the counter's triggers; another warehouse table, a published version of its own as the rates have.

The cache answers only a request it can check exactly as the route would: a GET without a body, a valid token
(``VerifiedTokens``) with ``clients:view`` on a company it reaches; anything else goes to the app, which gives
its own answer or error. Only 200 answers are kept, in an LRU bounded in bytes (``TALLY_ANSWER_CACHE_BYTES``).
With PostgreSQL marts there is no published version to key by (the tables change under readers): every request
goes to the route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
import cachetools
import sqlalchemy as sa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import check_company_access
from api.verified_tokens import VerifiedTokens
from tally.errors import TallyError
from warehouse.company_changes import company_version
from warehouse.results import today
from warehouse.serving import CacheObserver, Marts

CACHE_NAME = "results_answers"
RESULTS_PATH = re.compile(r"^/api/clients/(?P<company>[^/]+)/results(?:/campaigns(?:/daily)?)?$")
VIEW = "clients:view"


@dataclass(frozen=True)
class Answer:
    """A remembered 200: its body and content type, and the route that made it (for the log and metrics)."""

    body: bytes
    content_type: bytes
    route: Any
    path_params: dict[str, Any]


def answer_bytes(answer: Answer) -> int:
    """What an answer counts for in the cache's bound."""
    return len(answer.body) + 200


class AnswerCache:
    """ASGI middleware serving remembered results answers, and remembering the app's 200s."""

    def __init__(
        self,
        app: ASGIApp,
        tokens: VerifiedTokens,
        marts: Marts,
        engine: sa.Engine,
        max_bytes: int,
        observe: CacheObserver,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.marts = marts
        self.engine = engine
        self.max_bytes = max_bytes
        self.observe = observe
        self.answers: cachetools.LRUCache[tuple[Any, ...], Answer] = cachetools.LRUCache(
            maxsize=max(1, max_bytes), getsizeof=answer_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        company = self.cacheable_company(scope)
        if company is None:
            await self.app(scope, receive, send)
            return
        version, rates, changes = await anyio.to_thread.run_sync(self.versions, company, converts(scope))
        if version is None or rates is None:
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope["query_string"], version, rates, changes, today())
        answer = self.answers.get(key)
        self.observe(CACHE_NAME, answer is not None)
        if answer is not None:
            scope["route"], scope["path_params"] = answer.route, answer.path_params
            await send_answer(answer, send)
            return
        await self.app(scope, receive, self.remembering(key, scope, send))

    def cacheable_company(self, scope: Scope) -> str | None:
        """The company of a GET results request the cache may answer: no body, and a caller the route would let
        in. None sends the request to the app."""
        if self.max_bytes == 0 or scope["type"] != "http" or scope["method"] != "GET":
            return None
        match = RESULTS_PATH.match(scope["path"])
        if match is None:
            return None
        headers = dict(scope["headers"])
        if headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
            return None
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            check_company_access(self.tokens.principal(token), VIEW, match["company"])
        except TallyError:
            return None
        return match["company"]

    def versions(self, company: str, reads_rates: bool) -> tuple[str | None, str | None, int]:
        """The company's published marts version, the published rates' version when the request converts (else
        ""), and its app-database change count, read in one thread hop; no version when one cannot be read (the
        route then answers, or fails, on its own)."""
        version = self.marts.published_version(company)
        rates = self.marts.rates_version() if reads_rates else ""
        if version is None or rates is None:
            return None, None, 0
        try:
            with self.engine.connect() as db:
                return version, rates, company_version(db, company)
        except sa.exc.SQLAlchemyError:
            return None, None, 0

    def remembering(self, key: tuple[Any, ...], scope: Scope, send: Send) -> Callable[[Message], Any]:
        """A ``send`` that passes the app's answer on and keeps it when it is a whole 200."""
        start: Message = {}
        parts: list[bytes] = []

        async def remember(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body" and start.get("status") == 200:
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    content_type = dict(start.get("headers", ())).get(b"content-type", b"application/json")
                    route, path_params = scope.get("route"), dict(scope.get("path_params", {}))
                    answer = Answer(b"".join(parts), content_type, route, path_params)
                    if answer_bytes(answer) * 4 <= self.max_bytes:
                        self.answers[key] = answer
            await send(message)

        return remember


def converts(scope: Scope) -> bool:
    """Whether a request asks for a currency, so its answer depends on the exchange rates too."""
    return "currency" in parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)


async def send_answer(answer: Answer, send: Send) -> None:
    """Send a remembered answer as the route sent it."""
    headers = [(b"content-type", answer.content_type), (b"content-length", str(len(answer.body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
