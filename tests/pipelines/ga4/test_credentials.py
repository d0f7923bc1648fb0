"""The GA4 credential schema: the property id, and exactly one of a service account's key or an OAuth client."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from pipelines import ga4
from pipelines.ga4 import GA4Credentials

KeyFile = Callable[[str], dict[str, str]]
OAUTH = {"client_id": "app.apps.googleusercontent.com", "client_secret": "s3cr3t-x", "refresh_token": "1//rt-x"}


@pytest.mark.parametrize("given", ["123456789", "properties/123456789", " properties/123456789 ", 123456789])
def test_the_property_id_is_kept_as_its_digits(given: Any) -> None:
    assert GA4Credentials(property_id=given, **OAUTH).account_id() == "123456789"


@pytest.mark.parametrize("given", ["", "abc", "properties/", "accounts/123", "123/456", "properties/12a"])
def test_a_property_id_that_is_not_one_is_refused(given: str) -> None:
    with pytest.raises(ValidationError, match="property_id"):
        GA4Credentials(property_id=given, **OAUTH)


def test_a_key_file_is_taken_as_text_or_as_an_object(service_account_key: KeyFile) -> None:
    key = service_account_key("sa-key")
    as_text = GA4Credentials(property_id="1", service_account_json=json.dumps(key))
    as_object = GA4Credentials(property_id="1", service_account_json=key)
    assert as_text.service_account() == as_object.service_account() == key


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda key: "{not json " + json.dumps(key), "is not valid JSON"),
        (lambda key: json.dumps([key]), "must be a JSON object"),
        (lambda key: json.dumps({**key, "client_email": ""}), "lacks client_email"),
        (lambda key: json.dumps({k: v for k, v in key.items() if k != "private_key"}), "lacks private_key"),
        (lambda key: json.dumps({**key, "private_key": key["private_key"][:200]}), "has a private_key that is not"),
    ],
)
def test_an_unusable_key_file_is_refused_without_being_quoted(
    service_account_key: KeyFile, change: Any, reason: str
) -> None:
    text = change(service_account_key("quoted-key-id"))
    with pytest.raises(ValidationError) as refused:
        GA4Credentials(property_id="1", service_account_json=text)
    assert reason in str(refused.value)
    assert "quoted-key-id" not in str(refused.value) and "PRIVATE KEY" not in str(refused.value)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({}, "give service_account_json, or client_id, client_secret, refresh_token"),
        ({"client_id": "app", "refresh_token": "1//rt-x"}, "(missing: client_secret)"),
        ({**OAUTH, "service_account_json": "KEY"}, "give either service_account_json or client_id"),
    ],
)
def test_exactly_one_way_to_authenticate_is_given(
    service_account_key: KeyFile, given: dict[str, str], reason: str
) -> None:
    if given.get("service_account_json") == "KEY":
        given = {**given, "service_account_json": json.dumps(service_account_key("k"))}
    with pytest.raises(ValidationError) as refused:
        GA4Credentials(property_id="1", **given)
    assert reason in str(refused.value)
    assert "s3cr3t-x" not in str(refused.value) and "1//rt-x" not in str(refused.value)


def test_the_spec_describes_the_form_without_values() -> None:
    spec = ga4.SPEC
    assert (spec.id, spec.display_name, spec.icon, spec.kind, spec.lookback_days) == (
        "ga4",
        "Google Analytics 4",
        "google-analytics",
        "analytics",
        3,
    )
    fields = {field.name: field for field in spec.credential_fields()}
    assert list(fields) == ["property_id", "service_account_json", "client_id", "client_secret", "refresh_token"]
    assert {name for name, field in fields.items() if field.secret} == {
        "service_account_json",
        "client_secret",
        "refresh_token",
    }
    assert [name for name, field in fields.items() if field.required] == ["property_id"]
    assert all(field.help_text for field in fields.values())
