"""What a Google Ads connection needs: a developer token, an OAuth client and refresh token, and the customer."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, SecretStr, field_validator

from pipelines.base import Credentials

CUSTOMER_ID = re.compile(r"^[0-9]{10}$")
CUSTOMER_ID_HELP = "must be a 10-digit customer id, e.g. 123-456-7890 or 1234567890"


def normalised_customer_id(value: Any) -> Any:
    """A customer id's 10 digits: Google Ads shows ``123-456-7890``, the API wants ``1234567890``."""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return value
    digits = re.sub(r"[\s-]", "", value)
    if not CUSTOMER_ID.match(digits):
        raise ValueError(CUSTOMER_ID_HELP)
    return digits


class GoogleAdsCredentials(Credentials):
    """A developer token, an OAuth client with a refresh token of a user who can read the customer, and the
    customer (ad account) to read, reached through a manager account when ``login_customer_id`` is given.
    """

    # A validation error must never repeat what was typed: a secret pasted into the wrong field would show.
    model_config = ConfigDict(hide_input_in_errors=True)

    developer_token: SecretStr = Field(
        min_length=1,
        description="The Google Ads API developer token of your manager account (Tools > API Center).",
    )
    client_id: str = Field(min_length=1, description="OAuth client id (….apps.googleusercontent.com).")
    client_secret: SecretStr = Field(min_length=1, description="The OAuth client's secret.")
    refresh_token: SecretStr = Field(
        min_length=1,
        description="A refresh token of a user with access to the customer, granted the adwords scope.",
    )
    customer_id: str = Field(
        description="The Google Ads customer id to read, 10 digits; dashes as shown in Google Ads are accepted."
    )
    login_customer_id: str | None = Field(
        default=None,
        description="The manager account's customer id, when the user reaches the customer through a manager "
        "(MCC); leave empty otherwise. Dashes are accepted.",
    )

    @field_validator("customer_id", mode="before")
    @classmethod
    def _customer_digits(cls, value: Any) -> Any:
        return normalised_customer_id(value)

    @field_validator("login_customer_id", mode="before")
    @classmethod
    def _login_customer_digits(cls, value: Any) -> Any:
        """An empty manager id means none."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return normalised_customer_id(value)

    def account_id(self) -> str:
        """The customer id, digits only: every request names it."""
        return self.customer_id

    def oauth_grant(self) -> tuple[str, str, str]:
        """The OAuth client id, client secret and refresh token, revealed for the token request only."""
        return self.client_id, self.client_secret.get_secret_value(), self.refresh_token.get_secret_value()
