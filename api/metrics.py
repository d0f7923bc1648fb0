"""Prometheus metrics at ``GET /metrics``: requests and their latency per route template, answer-cache hits and
misses, and how old the published marts are.

Labels are route templates (``/api/clients/{companyId}/results``), never a company id or a raw path, so the
series stay as few as the routes. With several workers (``tally api --workers N``) each worker is its own
process with its own counters: prometheus_client's multiprocess mode, switched on by the
``PROMETHEUS_MULTIPROC_DIR`` variable that ``tally api`` sets before its workers start, has each write its
values to files in that folder, and whichever worker answers a scrape adds them all up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
router = APIRouter(tags=["health"])


class PublishedAge(Collector):
    """The age of the newest and of the oldest published company version, read when scraped.

    ``publish_times`` gives the modification time of each company's ``CURRENT`` pointer (each publish replaces
    it), or None where nothing is published as files (a PostgreSQL warehouse): then no sample is given.
    """

    def __init__(self, publish_times: Callable[[], list[float] | None]) -> None:
        self.publish_times = publish_times

    def collect(self) -> Iterator[GaugeMetricFamily]:
        times = self.publish_times()
        if times is None:
            return
        companies = GaugeMetricFamily("tally_published_companies", "Companies with published marts")
        companies.add_metric([], len(times))
        yield companies
        if not times:
            return
        age = GaugeMetricFamily(
            "tally_published_version_age_seconds",
            "Seconds since a company's marts were last published: the newest and the oldest company's",
            labels=["which"],
        )
        now = time.time()
        age.add_metric(["newest"], now - max(times))
        age.add_metric(["oldest"], now - min(times))
        yield age


class ApiMetrics:
    """The API's metrics, in a registry of their own (an app per test must not collide with another's)."""

    def __init__(self, publish_times: Callable[[], list[float] | None]) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_DIR)
        self.registry = CollectorRegistry()
        # In multiprocess mode values live in files, read back by MultiProcessCollector: registering them as well
        # would report this worker's twice.
        own = None if self.multiprocess_dir else self.registry
        self.requests = Counter("tally_http_requests", "Requests answered", ["method", "route", "status"], registry=own)
        self.latency = Histogram(
            "tally_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.cache_lookups = Counter(
            "tally_answer_cache_lookups", "Lookups of remembered answers", ["cache", "result"], registry=own
        )
        self.published_age = PublishedAge(publish_times)
        if own is not None:
            own.register(self.published_age)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency under its route template."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_cache(self, cache: str, hit: bool) -> None:
        """Count one lookup of ``cache``: a hit or a miss."""
        self.cache_lookups.labels(cache, "hit" if hit else "miss").inc()

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format, every worker's added up in multiprocess mode."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)
        registry.register(self.published_age)
        return generate_latest(registry)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The metrics, for Prometheus to scrape (no token: they hold no company's id or data)."""
    api_metrics: ApiMetrics = request.app.state.metrics
    return Response(api_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
