"""The Shopify connection test: one store read plus the token's scopes, against the emulator."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from pipelines import shopify
from pipelines.emulator import synthetic
from pipelines.emulator.shopify import INVALID_TOKEN
from tally.settings import Settings


def store(token: str, shop: str | None = None) -> shopify.ShopifyCredentials:
    return shopify.ShopifyCredentials(store_url=f"https://{shop or f'conn-{uuid4().hex[:10]}'}.myshopify.com/",
                                      access_token=token)  # fmt: skip


@pytest.mark.parametrize("shop", ["conn-usd-store", "conn-eur-store"])
def test_good_credentials_describe_the_store(emulator: httpx.Client, settings: Settings, shop: str) -> None:
    result = shopify.test_connection(store("shpat_good", shop), settings)
    account = synthetic.account("shopify", shop)
    assert result.success and result.error is None
    assert (result.account_id, result.display_name) == (shop, account.name)
    assert (result.currency, result.timezone) == (account.currency, account.timezone)
    assert {"read_orders", "read_all_orders"} <= set(result.scopes)


@pytest.mark.parametrize("token", ["expired-shpat-abc123", "revoked-shpat-abc123"])
def test_a_refused_token_fails_with_shopifys_own_reason(emulator: httpx.Client, settings: Settings, token: str) -> None:
    result = shopify.test_connection(store(token), settings)
    assert not result.success
    assert result.error == f"Shopify: {INVALID_TOKEN}"
    assert token not in result.error


def test_a_token_without_read_all_orders_passes_and_its_scopes_say_so(
    emulator: httpx.Client, settings: Settings
) -> None:
    result = shopify.test_connection(store("limited-shpat"), settings)
    assert result.success
    assert "read_orders" in result.scopes and "read_all_orders" not in result.scopes


def test_a_store_that_keeps_failing_is_reported_not_raised(emulator: httpx.Client, settings: Settings) -> None:
    credentials = store("shpat_good")
    emulator.put(f"/_emulator/faults/shopify/{credentials.shop}", json={"server_error": 10})
    result = shopify.test_connection(credentials, settings)
    assert not result.success
    assert result.error == "Shopify: server error after retries: Internal Server Error"
