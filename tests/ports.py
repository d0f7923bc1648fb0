"""Ports for the servers the tests start as child processes.

A port the kernel hands out with ``bind(("127.0.0.1", 0))`` comes from the ephemeral range, which outgoing
connections also draw from; with two pytest-xdist workers starting servers and clients at once, a port found free
was taken before the child bound it (``Address already in use``), and another test's server answered the wait.
These ports lie below Linux's ephemeral range (32768-60999), each xdist worker with a band of its own.
"""

from __future__ import annotations

import itertools
import os
import socket

FIRST_PORT = 20000
PORTS = 10000
_taken = itertools.count()


def child_port(host: str = "127.0.0.1") -> int:
    """A port no one listens on, in this xdist worker's own band below the ephemeral range."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    band = PORTS // max(workers, 1)
    while True:
        port = FIRST_PORT + worker * band + next(_taken) % band
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
