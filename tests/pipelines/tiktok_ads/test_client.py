"""The TikTok Ads connector's pieces that need no server: credentials, the spec, report windows, error reading."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests
from pydantic import ValidationError

from pipelines import tiktok_ads
from pipelines.tiktok_ads.client import is_retryable, read_error, report_windows


def test_the_spec_describes_the_credential_form() -> None:
    fields = {field.name: field for field in tiktok_ads.SPEC.credential_fields()}
    assert (tiktok_ads.SPEC.id, tiktok_ads.SPEC.display_name, tiktok_ads.SPEC.icon) == (
        "tiktok_ads",
        "TikTok Ads",
        "tiktok",
    )
    assert set(fields) == {"access_token", "advertiser_id"}
    assert fields["access_token"].secret and not fields["advertiser_id"].secret
    assert all(field.required and field.help_text for field in fields.values())


@pytest.mark.parametrize(
    "raw",
    [
        {"access_token": "t", "advertiser_id": "act_123"},
        {"access_token": "t", "advertiser_id": ""},
        {"access_token": "", "advertiser_id": "7000000000000000001"},
        {"access_token": "t", "advertiser_id": "7000000000000000001", "app_id": "x"},
    ],
)
def test_credentials_refuse_a_non_digit_advertiser_an_empty_token_and_extra_fields(raw: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        tiktok_ads.TikTokAdsCredentials.model_validate(raw)


def test_credentials_keep_the_token_secret_and_name_the_advertiser() -> None:
    creds = tiktok_ads.TikTokAdsCredentials(access_token=" s3cr3t ", advertiser_id="7000000000000000001")
    assert creds.account_id() == "7000000000000000001"
    assert "s3cr3t" not in repr(creds) and creds.secret_values() == ["s3cr3t"]


@pytest.mark.parametrize(
    ("start", "end", "windows"),
    [
        (date(2025, 1, 1), date(2025, 1, 1), [(date(2025, 1, 1), date(2025, 1, 1))]),
        (date(2025, 1, 1), date(2025, 1, 30), [(date(2025, 1, 1), date(2025, 1, 30))]),
        (date(2025, 1, 1), date(2025, 1, 31), [(date(2025, 1, 1), date(2025, 1, 30)), (date(2025, 1, 31),) * 2]),
        (
            date(2025, 1, 1),
            date(2025, 3, 31),
            [
                (date(2025, 1, 1), date(2025, 1, 30)),
                (date(2025, 1, 31), date(2025, 3, 1)),
                (date(2025, 3, 2), date(2025, 3, 31)),
            ],
        ),
    ],
)
def test_report_windows_span_at_most_30_days_and_cover_the_range(
    start: date, end: date, windows: list[tuple[date, date]]
) -> None:
    assert report_windows(start, end) == windows


def response(status: int) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    return made


@pytest.mark.parametrize(
    ("status", "body", "error", "retry"),
    [
        (200, {"code": 0, "message": "OK", "data": {}}, None, False),
        (200, {"code": 40100, "message": "Too many requests."}, "Too many requests. (code 40100)", True),
        (200, {"code": 40133, "message": "Limit."}, "Limit. (code 40133)", True),
        (200, {"code": 50000, "message": "System error."}, "System error. (code 50000)", True),
        (200, {"code": 40002, "message": "page_size: bad"}, "page_size: bad (code 40002)", False),
        (500, None, None, True),
        (429, None, None, True),
    ],
)
def test_errors_are_read_from_the_body_code_and_throttles_retried(
    status: int, body: Any, error: str | None, retry: bool
) -> None:
    assert read_error(response(status), body) == error
    assert is_retryable(response(status), body) is retry
