"""The Shopify emulator keeps the real API's quirks that the connector depends on."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from pipelines.emulator import shopify as emulated
from pipelines.emulator.shopify import INVALID_TOKEN, orders_on

VERSION = "2025-10"
DAY = date.today() - timedelta(days=20)
A_DAY = {"created_at_min": f"{DAY}T00:00:00", "created_at_max": f"{DAY}T23:59:59"}


def new_shop() -> str:
    return f"emu-{uuid4().hex[:10]}"


def get(emulator: httpx.Client, shop: str, path: str, token: str = "shpat_ok", **params: object) -> httpx.Response:
    return emulator.get(f"/shopify/{shop}/admin/{path}", params=params, headers={"X-Shopify-Access-Token": token})


def orders(emulator: httpx.Client, shop: str, token: str = "shpat_ok", **params: object) -> httpx.Response:
    return get(emulator, shop, f"api/{VERSION}/orders.json", token, **params)


def busy_shop(minimum: int) -> str:
    """A shop that took at least ``minimum`` orders on DAY, so a small page size spans several pages."""
    while len(orders_on(shop := new_shop(), DAY)) < minimum:
        pass
    return shop


def test_orders_page_through_the_link_header_whose_cursor_carries_the_filters(emulator: httpx.Client) -> None:
    shop = busy_shop(8)
    first = orders(emulator, shop, status="any", limit=3, fields="id,created_at", **A_DAY)
    assert first.status_code == 200
    link = first.headers["Link"]
    next_link = r'<http://[^>]+/orders\.json\?limit=3&page_info=[\w-]+&fields=id%2Ccreated_at>; rel="next"'
    assert re.fullmatch(next_link, link)
    seen = [order["id"] for order in first.json()["orders"]]
    next_url = first.links["next"]["url"]
    while next_url:
        page = emulator.get(next_url, headers={"X-Shopify-Access-Token": "shpat_ok"})
        assert page.status_code == 200 and all(set(o) == {"id", "created_at"} for o in page.json()["orders"])
        seen += [order["id"] for order in page.json()["orders"]]
        next_url = page.links.get("next", {}).get("url")
    assert seen == sorted((order["id"] for order in orders_on(shop, DAY)), reverse=True)


def test_a_page_info_request_with_another_filter_is_refused_as_shopify_does(emulator: httpx.Client) -> None:
    shop = busy_shop(2)
    first = orders(emulator, shop, status="any", limit=1, **A_DAY)
    page_info = first.links["next"]["url"].split("page_info=")[1]
    refused = orders(emulator, shop, page_info=page_info, status="any")
    assert refused.status_code == 400
    assert refused.json() == {
        "errors": {
            "status": "status cannot be passed when page_info is present. "
            "See https://shopify.dev/api/usage/pagination-rest for more information."
        }
    }
    assert orders(emulator, shop, page_info="not a cursor").status_code == 400


def test_orders_are_open_only_unless_status_any_and_carry_raw_shopify_types(emulator: httpx.Client) -> None:
    shop = busy_shop(10)
    everything = orders(emulator, shop, status="any", limit=250, **A_DAY).json()["orders"]
    open_only = orders(emulator, shop, limit=250, **A_DAY).json()["orders"]
    assert len(everything) == len(orders_on(shop, DAY)) > len(open_only)
    assert all(o["closed_at"] is None and o["cancelled_at"] is None for o in open_only)
    order = everything[0]
    assert isinstance(order["id"], int) and isinstance(order["test"], bool)
    assert re.fullmatch(r"\d+\.\d{2}", order["total_price"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", order["created_at"])
    assert orders(emulator, shop, limit=251, **A_DAY).status_code == 400


@pytest.mark.parametrize("token", ["", "expired-shpat", "revoked-shpat"])
def test_a_bad_token_gets_shopifys_401(emulator: httpx.Client, token: str) -> None:
    response = get(emulator, new_shop(), f"api/{VERSION}/shop.json", token)
    assert response.status_code == 401
    assert response.json() == {"errors": INVALID_TOKEN}


def test_throttling_is_a_429_with_a_fractional_retry_after(emulator: httpx.Client) -> None:
    shop = new_shop()
    emulator.put(f"/_emulator/faults/shopify/{shop}", json={"rate_limit": 1, "retry_after_seconds": 2})
    throttled = get(emulator, shop, f"api/{VERSION}/shop.json")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2.0"
    assert "Exceeded 2 calls per second" in throttled.json()["errors"]
    assert get(emulator, shop, f"api/{VERSION}/shop.json").status_code == 200


def test_a_limited_token_lacks_read_all_orders_and_sees_only_the_last_60_days(emulator: httpx.Client) -> None:
    shop = new_shop()
    scopes = get(emulator, shop, "oauth/access_scopes.json", "limited-shpat").json()["access_scopes"]
    assert {"handle": "read_orders"} in scopes and {"handle": "read_all_orders"} not in scopes
    window = {"created_at_min": f"{date.today() - timedelta(days=90)}T00:00:00+00:00", "limit": 250}
    created = [
        datetime.fromisoformat(order["created_at"])
        for page in _all_pages(emulator, shop, "limited-shpat", window)
        for order in page
    ]
    assert created and min(created) >= datetime.now(UTC) - timedelta(days=60, minutes=5)


def test_the_cursor_is_opaque_base64_json_of_the_first_requests_filters(emulator: httpx.Client) -> None:
    shop = busy_shop(2)
    page_info = orders(emulator, shop, status="any", limit=1, **A_DAY).links["next"]["url"].split("page_info=")[1]
    carried = json.loads(base64.urlsafe_b64decode(page_info + "=" * (-len(page_info) % 4)))
    assert carried["status"] == "any" and carried["created_at_min"] == A_DAY["created_at_min"]
    assert emulated.OrderQuery(**carried).after_id is not None


def _all_pages(emulator: httpx.Client, shop: str, token: str, params: dict[str, object]) -> list[list[dict]]:
    response = orders(emulator, shop, token, status="any", **params)
    pages = [response.json()["orders"]]
    while "next" in response.links:
        response = emulator.get(response.links["next"]["url"], headers={"X-Shopify-Access-Token": token})
        pages.append(response.json()["orders"])
    return pages
