"""What a GA4 connection needs: the property, and either a service account's key or an OAuth refresh token."""

from __future__ import annotations

import json
import re
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from pipelines.base import Credentials

PROPERTY_ID = re.compile(r"^(?:properties/)?([0-9]{1,20})$")
OAUTH_FIELDS = ("client_id", "client_secret", "refresh_token")


class GA4Credentials(Credentials):
    """A GA4 property and one way to get a token for it: a service account's JSON key, or an OAuth client and
    a refresh token of a user who can read the property. Exactly one of the two.
    """

    # A validation error must never repeat what was typed: the key file is one long secret.
    model_config = ConfigDict(hide_input_in_errors=True)

    property_id: str = Field(
        description="The GA4 property id, digits only (Admin > Property details), e.g. 123456789; "
        "'properties/123456789' is accepted too.",
    )
    service_account_json: SecretStr | None = Field(
        default=None,
        description="The JSON key file of a service account added to the property as a Viewer. "
        "Leave empty when connecting with an OAuth client and refresh token.",
    )
    client_id: str | None = Field(
        default=None, description="OAuth client id (….apps.googleusercontent.com), when not using a service account."
    )
    client_secret: SecretStr | None = Field(default=None, description="The OAuth client's secret.")
    refresh_token: SecretStr | None = Field(
        default=None,
        description="A refresh token of a user who can read the property, granted the analytics.readonly scope.",
    )

    @field_validator("property_id", mode="before")
    @classmethod
    def _bare_property_id(cls, value: Any) -> Any:
        """Keep the digits only: GA4's resource name ``properties/123`` and the bare ``123`` are one property."""
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str) and (match := PROPERTY_ID.match(value.strip())):
            return match.group(1)
        raise ValueError("must be the property's numeric id, e.g. 123456789 or properties/123456789")

    @field_validator("service_account_json", mode="before")
    @classmethod
    def _key_file_as_text(cls, value: Any) -> Any:
        """A key file pasted as a JSON object is the same key as its text."""
        return json.dumps(value) if isinstance(value, dict) else value

    @field_validator("service_account_json")
    @classmethod
    def _key_file_is_readable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            read_service_account(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> GA4Credentials:
        given = [name for name in OAUTH_FIELDS if getattr(self, name)]
        if self.service_account_json and given:
            raise ValueError(f"give either service_account_json or {', '.join(OAUTH_FIELDS)}, not both")
        if not self.service_account_json and len(given) < len(OAUTH_FIELDS):
            missing = [name for name in OAUTH_FIELDS if name not in given]
            raise ValueError(f"give service_account_json, or {', '.join(OAUTH_FIELDS)} (missing: {', '.join(missing)})")
        return self

    def account_id(self) -> str:
        """The property id: every request names it."""
        return self.property_id

    def service_account(self) -> dict[str, Any] | None:
        """The service account's key as a dict, or None when the credentials are an OAuth refresh token."""
        if self.service_account_json is None:
            return None
        return read_service_account(self.service_account_json.get_secret_value())

    def oauth_grant(self) -> tuple[str, str, str]:
        """The OAuth client id, client secret and refresh token, revealed for the token request only."""
        if not (self.client_id and self.client_secret and self.refresh_token):
            raise ValueError("these credentials hold a service account key, not an OAuth refresh token")
        return self.client_id, self.client_secret.get_secret_value(), self.refresh_token.get_secret_value()


def read_service_account(text: str) -> dict[str, Any]:
    """A service account's key file, checked for what signing a token needs. Errors never quote the file."""
    try:
        key = json.loads(text)
    except ValueError:
        raise ValueError("is not valid JSON") from None
    if not isinstance(key, dict):
        raise ValueError("must be a JSON object (a service account's key file)")
    missing = [name for name in ("client_email", "private_key") if not isinstance(key.get(name), str) or not key[name]]
    if missing:
        raise ValueError(f"lacks {' and '.join(missing)}")
    try:
        load_pem_private_key(key["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("has a private_key that is not an unencrypted PEM private key") from None
    return key
