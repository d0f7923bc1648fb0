"""The TikTok emulator keeps the real API's quirks that the connector depends on."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from pipelines.emulator import synthetic
from tests.pipelines.tiktok_ads.served import END, START, delivered

API = "/open_api/v1.3"
DIMENSIONS = ["campaign_id", "stat_time_day"]
METRICS = ["campaign_name", "spend", "impressions", "complete_payment", "total_complete_payment_rate"]


def get(emulator: httpx.Client, path: str, token: str | None = "tt-token", **params: Any) -> httpx.Response:
    headers = {"Access-Token": token} if token is not None else {}
    query = {name: json.dumps(value) if isinstance(value, list) else value for name, value in params.items()}
    return emulator.get(f"{API}/{path}", params=query, headers=headers)


def report(emulator: httpx.Client, advertiser_id: str, token: str | None = "tt-token", **params: Any) -> httpx.Response:
    query = {
        "advertiser_id": advertiser_id,
        "report_type": "BASIC",
        "data_level": "AUCTION_CAMPAIGN",
        "dimensions": DIMENSIONS,
        "metrics": METRICS,
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=29)).isoformat(),
    }
    return get(emulator, "report/integrated/get/", token, **{**query, **params})


def envelope(response: httpx.Response) -> tuple[int, int, str, Any]:
    body = response.json()
    assert re.fullmatch(r"\d{14}[0-9A-F]{18}", body["request_id"])
    return response.status_code, body["code"], body["message"], body["data"]


@pytest.mark.parametrize(
    ("token", "code", "message"),
    [
        (None, 40104, "Access token is null."),
        ("expired-tt", 40105, "Access token is incorrect or has been revoked."),
        ("revoked-tt", 40105, "Access token is incorrect or has been revoked."),
    ],
)
def test_token_errors_come_with_http_200_a_code_and_empty_data(
    emulator: httpx.Client, advertiser_id: str, token: str | None, code: int, message: str
) -> None:
    assert envelope(report(emulator, advertiser_id, token)) == (200, code, message, {})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"end_date": (START + timedelta(days=30)).isoformat()}, "must not exceed 30 days"),
        ({"page_size": 1001}, "page_size: Must be between 1 and 1000."),
        ({"metrics": "spend,clicks"}, "metrics: Not a valid list."),
        ({"metrics": ["spend", "cpm_unknown"]}, "metrics: Invalid metric(s): cpm_unknown."),
        ({"end_date": (START - timedelta(days=1)).isoformat()}, "end_date: Must be later than or equal"),
    ],
)
def test_a_refused_parameter_is_code_40002_in_an_http_200(
    emulator: httpx.Client, advertiser_id: str, params: dict[str, Any], message: str
) -> None:
    status, code, said, data = envelope(report(emulator, advertiser_id, **params))
    assert (status, code, data) == (200, 40002, {})
    assert message in said


def test_report_rows_have_string_metrics_and_local_midnight_days_paged_by_number(
    emulator: httpx.Client, advertiser_id: str
) -> None:
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json={"page_size": 7})
    served = delivered(advertiser_id, START, START + timedelta(days=29))
    status, code, _, data = envelope(report(emulator, advertiser_id, page=2, page_size=1000))

    assert (status, code) == (200, 0)
    total_page = -(-len(served) // 7)
    assert data["page_info"] == {"page": 2, "page_size": 7, "total_number": len(served), "total_page": total_page}
    campaign, day, metrics = served[7]
    assert data["list"][0] == {
        "dimensions": {"campaign_id": campaign.id, "stat_time_day": f"{day} 00:00:00"},
        "metrics": {
            "campaign_name": campaign.name,
            "spend": f"{metrics.spend:.2f}",
            "impressions": str(metrics.impressions),
            "complete_payment": str(metrics.conversions),
            "total_complete_payment_rate": f"{metrics.conversion_value:.2f}",
        },
    }
    last = envelope(report(emulator, advertiser_id, page=total_page + 1))[3]
    assert last["list"] == [] and last["page_info"]["total_page"] == total_page


def test_throttles_come_in_http_200_without_retry_after(emulator: httpx.Client, advertiser_id: str) -> None:
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json={"rate_limit": 1, "retry_after_seconds": 5})
    throttled = report(emulator, advertiser_id)
    assert envelope(throttled) == (200, 40100, "Too many requests. Please retry in some time.", {})
    assert "Retry-After" not in throttled.headers
    assert envelope(report(emulator, advertiser_id))[:2] == (200, 0)


def test_server_errors_alternate_between_code_50000_and_the_gateways_500(
    emulator: httpx.Client, advertiser_id: str
) -> None:
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json={"server_error": 2})
    in_body, gateway = report(emulator, advertiser_id), report(emulator, advertiser_id)
    assert envelope(in_body)[:2] == (200, 50000)
    assert (gateway.status_code, gateway.text) == (500, "Internal Server Error")


def test_advertiser_info_names_the_zone_and_its_fixed_offset_and_keeps_only_the_fields_asked_for(
    emulator: httpx.Client,
) -> None:
    fields = ["advertiser_id", "name", "currency", "timezone", "display_timezone"]
    status, code, _, data = envelope(get(emulator, "advertiser/info/", advertiser_ids=["7001"], fields=fields))
    account = synthetic.account("tiktok_ads", "7001")
    (entry,) = data["list"]
    assert (status, code, list(entry)) == (200, 0, fields)
    assert (entry["name"], entry["currency"], entry["display_timezone"]) == (account.name, "USD", account.timezone)
    standard = {"America/New_York": -5, "America/Chicago": -6, "America/Los_Angeles": -8, "Australia/Sydney": 10}
    hours = standard.get(account.timezone, 0)
    assert entry["timezone"] == (f"Etc/GMT{-hours:+d}" if hours else "Etc/GMT")


def test_campaigns_have_number_budgets_and_page_info(emulator: httpx.Client, advertiser_id: str) -> None:
    status, code, _, data = envelope(get(emulator, "campaign/get/", advertiser_id=advertiser_id, page_size=2))
    campaigns = synthetic.campaigns("tiktok_ads", advertiser_id)
    assert (status, code) == (200, 0)
    assert data["page_info"] == {
        "page": 1,
        "page_size": 2,
        "total_number": len(campaigns),
        "total_page": -(-len(campaigns) // 2),
    }
    first = data["list"][0]
    assert first["campaign_id"] == campaigns[0].id and isinstance(first["budget"], float)
    assert first["budget_mode"] in {"BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL", "BUDGET_MODE_INFINITE"}
    assert first["operation_status"] in {"ENABLE", "DISABLE"}


def test_late_attribution_adds_purchases_to_recent_days_on_each_call(
    emulator: httpx.Client, advertiser_id: str
) -> None:
    emulator.put("/_emulator/today", params={"today": (END + timedelta(days=1)).isoformat()})
    emulator.put(f"/_emulator/faults/tiktok_ads/{advertiser_id}", json={"late_attribution": True})
    recent = {"start_date": (END - timedelta(days=2)).isoformat(), "end_date": END.isoformat(), "page_size": 1000}

    calls = [envelope(report(emulator, advertiser_id, **recent))[3]["list"] for _ in range(3)]
    purchases = [sum(int(row["metrics"]["complete_payment"]) for row in rows) for rows in calls]
    rows = len(calls[0])
    assert rows and purchases == [purchases[0], purchases[0] + rows, purchases[0] + 2 * rows]
    served = delivered(advertiser_id, date.fromisoformat(recent["start_date"]), END)
    assert purchases[0] == sum(metrics.conversions for _, _, metrics in served)
