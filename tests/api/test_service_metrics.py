"""``GET /metrics`` of a real ``tally api``, with one worker and with two: requests and latency per route template
(never per company), answer-cache hits and misses, and the age of the published marts."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.auth import mint_token
from tests.api.service_server import one_day, process_settings, publish_marts, tally_api
from warehouse.app_database import upgrade

RESULTS = "/api/clients/{companyId}/results"
REQUESTS = 24


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, keyed by its name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """One sample's value, 0 when absent (a counter never incremented)."""
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_count_requests_per_route_template_and_cache_lookups_across_workers(
    tmp_path: Path, workers: int
) -> None:
    settings = process_settings(tmp_path)
    upgrade(settings.resolved_app_database_url)
    publish_marts(settings, one_day("acme", 10))
    published = time.time()
    token = mint_token(settings, "metrics", ["clients:view"], ["acme", "globex"], 600)
    params = {"period_type": "month", "period_end": "2024-03-31"}
    with tally_api(settings, tmp_path / "api.log", ["--workers", str(workers)]) as api:
        for company in ["acme"] * REQUESTS + ["globex"]:
            # A new connection each time, so a multi-worker server spreads them over its workers.
            response = httpx.get(
                f"{api.url}/api/clients/{company}/results", params=params, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200, response.text
        assert httpx.get(f"{api.url}/api/clients/acme/results").status_code == 401
        scraped = httpx.get(f"{api.url}/metrics")
        scraped_at = time.time()
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert "acme" not in scraped.text and "globex" not in scraped.text, "no label holds a company id"
    found = samples(scraped.text)
    assert value(found, "tally_http_requests_total", method="GET", route=RESULTS, status="200") == REQUESTS + 1
    assert value(found, "tally_http_requests_total", method="GET", route=RESULTS, status="401") == 1
    assert value(found, "tally_http_request_duration_seconds_count", method="GET", route=RESULTS) == REQUESTS + 2
    # Each worker computes acme's answer once (its rollup too) and then serves it remembered; globex has nothing
    # published, so neither of its answers is kept.
    misses = value(found, "tally_answer_cache_lookups_total", cache="results_answers", result="miss")
    hits = value(found, "tally_answer_cache_lookups_total", cache="results_answers", result="hit")
    assert 1 <= misses <= workers and hits == REQUESTS - misses
    assert value(found, "tally_answer_cache_lookups_total", cache="answers", result="miss") == misses
    assert value(found, "tally_published_companies") == 1
    age = value(found, "tally_published_version_age_seconds", which="newest")
    assert 0 <= age <= scraped_at - published + 1
