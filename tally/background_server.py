"""Serve an ASGI app from a background thread on loopback: for tests, benchmarks and the demo."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


@contextmanager
def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning", ready_path: str | None = None
) -> Iterator[str]:
    """Run ``app`` with uvicorn until the block ends; yields its base URL (a free port when ``port`` is 0) once it
    listens and, with ``ready_path`` (the API's ``/readyz``), once that answers 200."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on {host}:{port} did not start")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://{host}:{bound_port}"
    try:
        if ready_path is not None:
            wait_until_ready(url + ready_path, deadline)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_until_ready(url: str, deadline: float) -> None:
    """Poll ``url`` until it answers 200; past ``deadline`` (monotonic) raise with its last answer."""
    answer = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
        except httpx.TransportError as exc:
            answer = type(exc).__name__
        else:
            if response.status_code == 200:
                return
            answer = f"{response.status_code} {response.text[:200]}"
        time.sleep(0.05)
    raise NotReady(f"{url} did not answer 200: {answer}")


class NotReady(RuntimeError):
    """The server listens, but its readiness route did not answer 200 in time."""
