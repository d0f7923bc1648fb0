"""The GA4 emulator speaks GA4: Google's error envelope, string values, ``YYYYMMDD`` dates, offset paging, and
``rows``/``rowCount`` left out when there is nothing to report."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from pipelines.emulator import synthetic
from pipelines.emulator.ga4 import property_account, traffic_on

BEARER = {"Authorization": "Bearer ya29.emulated"}
DIMENSIONS = ["date", "sessionCampaignName", "sessionSourceMedium"]
METRICS = ["sessions", "keyEvents", "totalRevenue"]
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 14)


def new_property(prefix: str = "6") -> str:
    return f"{prefix}{uuid4().int % 10**9:09d}"


def report_body(first: Any = FIRST, last: Any = LAST, **extra: Any) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": str(first), "endDate": str(last)}],
        "dimensions": [{"name": name} for name in DIMENSIONS],
        "metrics": [{"name": name} for name in METRICS],
        **extra,
    }


def run_report(emulator: httpx.Client, property_id: str, body: Any, headers: dict[str, str] = BEARER) -> httpx.Response:
    return emulator.post(f"/v1beta/properties/{property_id}:runReport", json=body, headers=headers)


def test_a_report_has_string_values_yyyymmdd_dates_typed_headers_and_the_propertys_metadata(
    emulator: httpx.Client,
) -> None:
    property_id = new_property("49")
    body = run_report(emulator, property_id, report_body()).json()

    served = [row for day in synthetic.days(FIRST, LAST) for row in traffic_on(property_id, day)]
    assert body["dimensionHeaders"] == [{"name": name} for name in DIMENSIONS]
    assert body["metricHeaders"] == [
        {"name": "sessions", "type": "TYPE_INTEGER"},
        {"name": "keyEvents", "type": "TYPE_FLOAT"},
        {"name": "totalRevenue", "type": "TYPE_CURRENCY"},
    ]
    assert body["metadata"] == {"currencyCode": "EUR", "timeZone": "Europe/Berlin"}
    assert body["kind"] == "analyticsData#runReport"
    assert body["rowCount"] == len(body["rows"]) == len(served)
    values = [[cell["value"] for cell in row["dimensionValues"] + row["metricValues"]] for row in body["rows"]]
    assert all(isinstance(value, str) for row in values for value in row)
    assert {row[0] for row in values} == {f"{day:%Y%m%d}" for day in synthetic.days(FIRST, LAST)}
    # "(not set)" has so little traffic that some properties have none in two weeks: compare with what was served.
    assert {row[1] for row in values} == {traffic.campaign for traffic in served}
    assert {"(direct)", "(organic)"} <= {row[1] for row in values}
    assert "(direct) / (none)" in {row[2] for row in values}
    assert not [row for row in values if row[3:] == ["0", "0", "0"]]
    assert sum(Decimal(row[5]) for row in values) == sum(row.totals.revenue for row in served)


def test_limit_and_offset_page_the_rows_and_the_page_size_fault_caps_a_page(emulator: httpx.Client) -> None:
    property_id = new_property()
    everything = run_report(emulator, property_id, report_body()).json()["rows"]

    page = run_report(emulator, property_id, report_body(limit="5", offset="10")).json()
    assert page["rows"] == everything[10:15] and page["rowCount"] == len(everything)
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json={"page_size": 3})
    capped = run_report(emulator, property_id, report_body(limit=100_000, offset=4)).json()
    assert capped["rows"] == everything[4:7] and capped["rowCount"] == len(everything)
    past_the_end = run_report(emulator, property_id, report_body(offset=len(everything))).json()
    assert "rows" not in past_the_end and past_the_end["rowCount"] == len(everything)


def test_a_report_without_data_leaves_out_rows_and_row_count(emulator: httpx.Client) -> None:
    body = run_report(emulator, new_property(), report_body("2022-01-01", "2022-01-31")).json()
    assert "rows" not in body and "rowCount" not in body
    assert body["metadata"]["currencyCode"] == "USD" and len(body["metricHeaders"]) == 3


def test_dimensions_left_out_are_summed_over(emulator: httpx.Client) -> None:
    property_id = new_property()
    body = report_body(dimensions=[{"name": "date"}], metrics=[{"name": "sessions"}])
    rows = run_report(emulator, property_id, body).json()["rows"]
    assert [(row["dimensionValues"][0]["value"], row["metricValues"][0]["value"]) for row in rows] == [
        (f"{day:%Y%m%d}", str(sum(row.totals.sessions for row in traffic_on(property_id, day))))
        for day in synthetic.days(FIRST, LAST)
    ]


def test_relative_dates_count_back_from_the_emulators_today(emulator: httpx.Client) -> None:
    emulator.put("/_emulator/today", params={"today": "2026-03-15"})
    body = run_report(emulator, new_property(), report_body("14daysAgo", "yesterday")).json()
    assert {row["dimensionValues"][0]["value"] for row in body["rows"]} == {
        f"{FIRST + timedelta(days=n):%Y%m%d}" for n in range(14)
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (report_body(metrics=[{"name": "conversionz"}]), "Field conversionz is not a valid metric."),
        (report_body(dimensions=[{"name": "campaign"}]), "Field campaign is not a valid dimension."),
        (report_body(LAST, FIRST), "The endDate must not be before the startDate."),
        (report_body("March 1"), "Invalid date range date: 'March 1'."),
        (report_body(offset="-1"), "offset must be non-negative"),
        ({"metrics": [{"name": "sessions"}]}, "dateRanges: exactly one date range is emulated."),
        ([], "Invalid JSON payload received."),
    ],
)
def test_a_request_ga4_would_refuse_gets_invalid_argument(emulator: httpx.Client, body: Any, message: str) -> None:
    response = run_report(emulator, new_property(), body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT") and error["message"].startswith(message)


@pytest.mark.parametrize(
    ("headers", "fault", "prefix", "status", "google_status"),
    [
        ({}, {}, "6", 401, "UNAUTHENTICATED"),
        ({"Authorization": "Basic abc"}, {}, "6", 401, "UNAUTHENTICATED"),
        ({"Authorization": "Bearer expired-ya29"}, {}, "6", 401, "UNAUTHENTICATED"),
        ({"Authorization": "Bearer revoked-ya29"}, {}, "6", 401, "UNAUTHENTICATED"),
        (BEARER, {}, "403", 403, "PERMISSION_DENIED"),
        (BEARER, {"rate_limit": 1, "retry_after_seconds": 7}, "6", 429, "RESOURCE_EXHAUSTED"),
        (BEARER, {"server_error": 1}, "6", 500, "INTERNAL"),
    ],
)
@pytest.mark.parametrize("api", ["admin", "data"])
def test_errors_come_in_googles_envelope(
    emulator: httpx.Client, headers: dict[str, str], fault: dict[str, int], prefix: str, status: int,
    google_status: str, api: str,
) -> None:  # fmt: skip
    property_id = new_property(prefix)
    emulator.put(f"/_emulator/faults/ga4/{property_id}", json=fault)
    if api == "admin":
        response = emulator.get(f"/v1beta/properties/{property_id}", headers=headers)
    else:
        response = run_report(emulator, property_id, report_body(), headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (status, google_status) and error["message"]
    assert response.headers.get("Retry-After") == ("7" if status == 429 else None)


def test_the_admin_api_describes_the_property(emulator: httpx.Client) -> None:
    property_id = new_property()
    body = emulator.get(f"/v1beta/properties/{property_id}", headers=BEARER).json()
    account = property_account(property_id)
    assert body["name"] == f"properties/{property_id}" and body["displayName"] == account.name
    assert (body["currencyCode"], body["timeZone"]) == ("USD", account.timezone)
    assert body["parent"].startswith("accounts/") and body["propertyType"] == "PROPERTY_TYPE_ORDINARY"
