"""The Google Ads credential schema: customer ids as Google Ads shows them, secrets kept secret."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pipelines import google_ads
from pipelines.google_ads import GoogleAdsCredentials
from pipelines.registry import parse_credentials
from tally.errors import InvalidCredentials

VALID = {
    "developer_token": "dev-token-0001",
    "client_id": "client.apps.googleusercontent.com",
    "client_secret": "client-secret-0001",
    "refresh_token": "refresh-token-0001",
    "customer_id": "1234567890",
}


@pytest.mark.parametrize("given", ["123-456-7890", "1234567890", " 123 456 7890 ", 1234567890])
def test_customer_ids_are_kept_as_their_ten_digits(given: Any) -> None:
    credentials = GoogleAdsCredentials.model_validate({**VALID, "customer_id": given, "login_customer_id": given})

    assert credentials.customer_id == "1234567890"
    assert credentials.login_customer_id == "1234567890"
    assert credentials.account_id() == "1234567890"


@pytest.mark.parametrize("field", ["customer_id", "login_customer_id"])
@pytest.mark.parametrize("given", ["123456789", "12345678901", "123-456-789x", "customers/1234567890"])
def test_a_customer_id_that_is_not_ten_digits_is_refused(field: str, given: str) -> None:
    with pytest.raises(ValidationError, match="10-digit customer id"):
        GoogleAdsCredentials.model_validate({**VALID, field: given})


@pytest.mark.parametrize("given", [None, "", "  "])
def test_no_manager_id_means_none(given: str | None) -> None:
    assert GoogleAdsCredentials.model_validate({**VALID, "login_customer_id": given}).login_customer_id is None


@pytest.mark.parametrize("missing", ["developer_token", "client_id", "client_secret", "refresh_token", "customer_id"])
def test_each_required_field_is_named_when_missing(missing: str) -> None:
    given = {name: value for name, value in VALID.items() if name != missing}

    with pytest.raises(InvalidCredentials, match=f"{missing}: Field required") as refused:
        parse_credentials(google_ads.SPEC, given)

    assert not [value for value in VALID.values() if value in refused.value.message]


def test_a_secret_pasted_into_the_wrong_field_is_not_repeated() -> None:
    with pytest.raises(ValidationError) as refused:
        GoogleAdsCredentials.model_validate({**VALID, "customer_id": "1//0gSecretRefreshToken"})

    assert "1//0gSecretRefreshToken" not in str(refused.value)


def test_the_form_marks_the_secrets_and_explains_every_field() -> None:
    fields = {field.name: field for field in google_ads.SPEC.credential_fields()}

    assert {name for name, field in fields.items() if field.secret} == {
        "developer_token",
        "client_secret",
        "refresh_token",
    }
    assert {name for name, field in fields.items() if not field.required} == {"login_customer_id"}
    assert all(field.help_text for field in fields.values())
    assert (google_ads.SPEC.id, google_ads.SPEC.display_name, google_ads.SPEC.icon) == (
        "google_ads",
        "Google Ads",
        "google-ads",
    )


def test_secrets_stay_hidden_in_the_model_s_text() -> None:
    credentials = GoogleAdsCredentials.model_validate(VALID)

    assert sorted(credentials.secret_values()) == sorted(
        [VALID["developer_token"], VALID["client_secret"], VALID["refresh_token"]]
    )
    assert not [secret for secret in credentials.secret_values() if secret in repr(credentials)]
