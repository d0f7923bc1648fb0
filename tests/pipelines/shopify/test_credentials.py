"""The Shopify credential schema: only a myshopify.com host can become a request address."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines import shopify
from pipelines.shopify.credentials import ShopifyCredentials


@pytest.mark.parametrize(
    "store_url",
    [
        "acme.myshopify.com",
        "https://acme.myshopify.com",
        "https://acme.myshopify.com/",
        "  ACME.myshopify.com ",
    ],
)
def test_a_myshopify_address_is_kept_as_its_host_with_the_handle_as_account_id(store_url: str) -> None:
    credentials = ShopifyCredentials(store_url=store_url, access_token="shpat_x")
    assert credentials.store_url == "acme.myshopify.com"
    assert credentials.shop == "acme"
    assert credentials.account_id() == "acme"


@pytest.mark.parametrize(
    "store_url",
    [
        "http://acme.myshopify.com",
        "acme.myshopify.com.evil.example",
        "evil.example/acme.myshopify.com",
        "https://acme.myshopify.com:8443",
        "https://user@acme.myshopify.com",
        "https://acme.myshopify.com/admin",
        "https://acme.myshopify.com/?next=evil.example",
        "https://127.0.0.1",
        "acme.com",
        "-acme.myshopify.com",
        "a..myshopify.com",
        ".myshopify.com",
        "",
    ],
)
def test_any_other_address_is_refused_with_a_message_naming_the_field(store_url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ShopifyCredentials(store_url=store_url, access_token="shpat_x")
    (error,) = refused.value.errors(include_input=False)
    assert error["loc"] == ("store_url",)
    assert "myshopify.com address" in error["msg"]


def test_the_spec_describes_the_form_and_keeps_the_token_secret() -> None:
    spec = shopify.SPEC
    assert (spec.id, spec.display_name, spec.icon, spec.kind, spec.lookback_days) == (
        "shopify",
        "Shopify",
        "shopify",
        "commerce",
        7,
    )
    fields = {field.name: field for field in spec.credential_fields()}
    assert set(fields) == {"store_url", "access_token"}
    assert fields["access_token"].secret and not fields["store_url"].secret
    assert all(field.required and field.help_text for field in fields.values())
    assert "shpat_secret" not in repr(ShopifyCredentials(store_url="acme.myshopify.com", access_token="shpat_secret"))
