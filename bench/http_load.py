"""A small closed-loop HTTP/1.1 load generator for the benchmarks: keep-alive connections, each sending its next
request when the last answer is read, from several processes so the generator is not held to one core's GIL.

Requests are prepared as bytes once and answers are read by their ``Content-Length`` only, so a request costs
the generator a few tens of microseconds: what is measured is the server. Every answer must be 200; the count of
others is reported as errors.
"""

from __future__ import annotations

import multiprocessing
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    """Answers in the measured window and their latencies, from every connection."""

    answered: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def http_request(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    """The bytes of one keep-alive GET."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_answer(connection: socket.socket, buffer: bytearray) -> int:
    """Read one answer off the connection (``buffer`` keeps what arrived beyond it); its status code."""
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer += chunk
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = next(int(line.split(":", 1)[1]) for line in head[1:] if line.lower().startswith("content-length:"))
    total = end + 4 + length
    while len(buffer) < total:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        buffer += chunk
    del buffer[:total]
    return status


def connection_loop(
    host: str, port: int, requests: Sequence[bytes], start: float, stop: float, offset: int
) -> LoadResult:
    """One connection: send the requests round-robin from ``offset`` until ``stop``; count answers that end after
    ``start``. Connections start at different offsets: in step, every connection would ask for the same client at
    once, and a first ask would be computed by all of them before any could remember it."""
    answered = errors = 0
    latencies: list[float] = []
    with socket.create_connection((host, port)) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray()
        position = offset
        while (sent := time.monotonic()) < stop:
            connection.sendall(requests[position % len(requests)])
            position += 1
            status = read_answer(connection, buffer)
            ended = time.monotonic()
            if ended >= start:
                latencies.append(ended - sent)
                answered += status == 200
                errors += status != 200
    return LoadResult(answered, errors, stop - start, latencies)


def process_loop(args: tuple[str, int, Sequence[bytes], list[int], float, float]) -> LoadResult:
    """Several connections in one process, on threads (each waits on its socket most of the time), one per
    offset."""
    from concurrent.futures import ThreadPoolExecutor

    host, port, requests, offsets, start, stop = args
    with ThreadPoolExecutor(len(offsets)) as pool:
        results = list(pool.map(lambda offset: connection_loop(host, port, requests, start, stop, offset), offsets))
    return merge(results)


def merge(results: Sequence[LoadResult]) -> LoadResult:
    """The results of several connections as one."""
    return LoadResult(
        answered=sum(result.answered for result in results),
        errors=sum(result.errors for result in results),
        seconds=max(result.seconds for result in results),
        latencies=[latency for result in results for latency in result.latencies],
    )


def drive(
    host: str,
    port: int,
    requests: Sequence[bytes],
    seconds: float,
    connections: int = 16,
    processes: int = 2,
    warmup: float = 0.5,
) -> LoadResult:
    """``connections`` closed-loop connections spread over ``processes`` for ``warmup`` + ``seconds``; the
    answers that ended inside the last ``seconds``."""
    start = time.monotonic() + warmup
    stop = start + seconds
    offsets = [connection * len(requests) // connections for connection in range(connections)]
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        shares = [(host, port, list(requests), offsets[n::processes], start, stop) for n in range(processes)]
        results = pool.map(process_loop, shares)
    return merge(results)
