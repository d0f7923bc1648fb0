"""What a Meta Ads connection needs: a Marketing API access token and the ad account it reads."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from pipelines.base import Credentials

ACCOUNT_NODE_PREFIX = "act_"


class MetaAdsCredentials(Credentials):
    """An access token with ``ads_read`` (a system user's never expires) and one ad account it may read."""

    access_token: SecretStr = Field(
        min_length=1,
        description="Marketing API access token with the ads_read permission; a Business Manager system user's "
        "token does not expire, a user's lasts about 60 days.",
    )
    ad_account_id: str = Field(
        pattern=r"^[0-9]{1,32}$",
        description="The ad account id from Ads Manager, digits only; an act_ prefix is accepted and dropped.",
    )

    @field_validator("ad_account_id", mode="before")
    @classmethod
    def _without_node_prefix(cls, value: Any) -> Any:
        """Keep the digits: Ads Manager shows ``123``, the Graph API names the node ``act_123``."""
        return value.strip().removeprefix(ACCOUNT_NODE_PREFIX) if isinstance(value, str) else value

    @property
    def account_node(self) -> str:
        """The ad account's Graph API node, ``act_<digits>``."""
        return f"{ACCOUNT_NODE_PREFIX}{self.ad_account_id}"

    def account_id(self) -> str:
        """The ad account id, digits only."""
        return self.ad_account_id
