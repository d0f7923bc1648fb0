"""Shopify client details that need no server: error reading, day bounds, and where the next page may point."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests

from pipelines.shopify.client import StoreLinkPaginator, local_day_bounds, read_error, shopify_http
from tally.errors import PlatformResponseError
from tally.settings import Settings


def response(status: int, headers: dict[str, str] | None = None) -> requests.Response:
    made = requests.Response()
    made.status_code, made.url = status, "https://acme.myshopify.com/admin/api/2025-10/orders.json?limit=250"
    made.headers.update(headers or {})
    return made


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, {"orders": []}, None),
        (401, {"errors": "[API] Invalid API key or access token"}, "[API] Invalid API key or access token"),
        (400, {"errors": {"status": "status cannot be passed"}}, "status: status cannot be passed"),
        (422, {"errors": {"limit": ["is too big", "is odd"]}}, "limit: is too big, is odd"),
        (502, None, None),
    ],
)
def test_shopifys_error_bodies_become_one_reason(status: int, body: Any, reason: str | None) -> None:
    assert read_error(response(status), body) == reason


@pytest.mark.parametrize(
    ("first", "last", "bounds"),
    [
        (date(2026, 9, 1), date(2026, 9, 1), ("2026-09-01T00:00:00-04:00", "2026-09-01T23:59:59-04:00")),
        # New York moves its clocks forward on 8 March 2026: each bound keeps its own offset.
        (date(2026, 3, 7), date(2026, 3, 9), ("2026-03-07T00:00:00-05:00", "2026-03-09T23:59:59-04:00")),
    ],
)
def test_local_days_become_inclusive_bounds_with_their_own_offsets(
    first: date, last: date, bounds: tuple[str, str]
) -> None:
    assert local_day_bounds(first, last, "America/New_York") == bounds


@pytest.mark.parametrize(("rel", "follows"), [("next", True), ("previous", False)])
def test_the_next_link_is_followed_on_the_stores_host(rel: str, follows: bool) -> None:
    paginator = StoreLinkPaginator(shopify_http(Settings(_env_file=None)))
    link = f'<https://acme.myshopify.com/admin/api/2025-10/orders.json?limit=250&page_info=abc>; rel="{rel}"'
    paginator.update_state(response(200, {"Link": link}))
    assert paginator.has_next_page is follows


@pytest.mark.parametrize(
    "elsewhere",
    ["https://evil.example/orders.json?page_info=abc", "http://acme.myshopify.com/admin/api/2025-10/orders.json"],
)
def test_a_next_link_to_another_host_is_refused_so_the_token_stays_home(elsewhere: str) -> None:
    paginator = StoreLinkPaginator(shopify_http(Settings(_env_file=None)))
    with pytest.raises(PlatformResponseError, match="next page link points to another host"):
        paginator.update_state(response(200, {"Link": f'<{elsewhere}>; rel="next"'}))
