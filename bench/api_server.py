"""The Tally API plus one bare endpoint, served by uvicorn in a process of its own for ``bench/api.py``.

The benchmark's load generator must not share a GIL with the server it measures, so it starts this module as a
child process. ``GET /bench/bare`` is added to the very app the results routes live in (same middleware, same
threadpool hop as their sync handlers), so its throughput is what the framework and the loopback cost alone.

Settings come from the environment (``TALLY_*``), as for ``tally api``. The socket is bound here on a free
port before the app starts, and the port is the first line on stdout: the parent never races another process
for a port it picked.

    TALLY_DATA_DIR=... TALLY_JWT_SECRET=... TALLY_ENCRYPTION_KEYS=... .venv/bin/python -m bench.api_server
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn
from fastapi import FastAPI

from api.main import create_app
from tally.settings import Settings


def bench_app(settings: Settings) -> FastAPI:
    """The real API app with ``GET /bench/bare`` added: the baseline the results routes are compared with."""
    app = create_app(settings)

    @app.get("/bench/bare", include_in_schema=False)
    def bare() -> dict[str, bool]:
        """No dependencies and no data: only routing, a threadpool hop and JSON, like every sync route pays."""
        return {"ok": True}

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    app = bench_app(Settings(_env_file=None))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, 0))
    print(listener.getsockname()[1], flush=True)
    # One process, one event loop: what a single API worker gives, with nothing else on its cores but DuckDB.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[listener])
    return 0


if __name__ == "__main__":
    sys.exit(main())
