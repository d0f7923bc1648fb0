"""What a Shopify connection needs: the store's myshopify.com address and an Admin API access token."""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

from pipelines.base import Credentials

# A store address becomes a request address, so only a bare https myshopify.com host gets through: no other
# host, scheme, port, user info, path or query. A handle is one DNS label.
STORE_ADDRESS = re.compile(r"(?:https://)?(?P<handle>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.myshopify\.com/?")


class ShopifyCredentials(Credentials):
    """A custom app's Admin API token for one store; it needs ``read_orders`` (``read_all_orders`` for history)."""

    store_url: str = Field(
        max_length=255,
        description="The store's myshopify.com address, e.g. acme.myshopify.com (Settings > Domains in the admin).",
    )
    access_token: SecretStr = Field(
        min_length=1,
        description="Admin API access token (shpat_...) of a custom app with read_orders; add read_all_orders to "
        "load orders older than 60 days.",
    )

    @field_validator("store_url")
    @classmethod
    def _myshopify_host(cls, value: str) -> str:
        """Keep only ``<handle>.myshopify.com``; refuse anything that would point requests elsewhere."""
        match = STORE_ADDRESS.fullmatch(value.lower())
        if match is None:
            raise ValueError("must be the store's myshopify.com address, such as acme.myshopify.com")
        return f"{match['handle']}.myshopify.com"

    @property
    def shop(self) -> str:
        """The store's handle, the ``acme`` of ``acme.myshopify.com``: its permanent id in URLs."""
        return self.store_url.removesuffix(".myshopify.com")

    def account_id(self) -> str:
        """The store handle: it names the store in every request and, unlike the shop name, never changes."""
        return self.shop
