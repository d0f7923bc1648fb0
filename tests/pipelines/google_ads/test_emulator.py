"""The Google Ads emulator speaks the REST API's shapes: proto3 JSON, page tokens, GoogleAdsFailure errors."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from pipelines.emulator import synthetic
from tests.pipelines.google_ads.served import END, START, delivered

VERSION = "v21"
HEADERS = {"Authorization": "Bearer ya29.token-0001", "developer-token": "dev-token-0001"}
DAILY = (
    "SELECT campaign.id, campaign.name, campaign_budget.amount_micros, metrics.cost_micros, metrics.impressions, "
    "metrics.clicks, metrics.conversions, metrics.conversions_value, segments.date FROM campaign "
    "WHERE segments.date BETWEEN '{start}' AND '{end}'"
)
CUSTOMER = "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer"


def search(
    emulator: httpx.Client, customer_id: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return emulator.post(
        f"/{VERSION}/customers/{customer_id}/googleAds:search",
        json=body,
        headers=HEADERS if headers is None else headers,
    )


def daily(start: date = START, end: date = END) -> str:
    return DAILY.format(start=start.isoformat(), end=end.isoformat())


def failure_code(response: httpx.Response) -> dict[str, str]:
    (detail,) = response.json()["error"]["details"]
    assert detail["@type"] == f"type.googleapis.com/google.ads.googleads.{VERSION}.errors.GoogleAdsFailure"
    assert detail["requestId"]
    return detail["errors"][0]["errorCode"]


def test_rows_are_proto3_json_int64_as_strings_doubles_as_numbers_zeros_left_out(
    emulator: httpx.Client, customer_id: str
) -> None:
    body = search(emulator, customer_id, {"query": daily()}).json()

    served = {(c.id, day.isoformat()): m for c, day, m in delivered(customer_id, START, END)}
    assert "nextPageToken" not in body and len(body["results"]) == len(served)
    assert body["fieldMask"] == (
        "campaign.id,campaign.name,campaignBudget.amountMicros,metrics.costMicros,metrics.impressions,"
        "metrics.clicks,metrics.conversions,metrics.conversionsValue,segments.date"
    )
    for row in body["results"]:
        assert set(row) == {"campaign", "campaignBudget", "metrics", "segments"}
        assert row["campaign"]["resourceName"] == f"customers/{customer_id}/campaigns/{row['campaign']['id']}"
        metrics = served[(row["campaign"]["id"], row["segments"]["date"])]
        assert row["metrics"]["costMicros"] == str(int(metrics.spend * 1_000_000))
        assert row["metrics"].get("impressions") == (str(metrics.impressions) if metrics.impressions else None)
        assert row["metrics"].get("clicks") == (str(metrics.clicks) if metrics.clicks else None)
        assert row["metrics"].get("conversions") == (float(metrics.conversions) if metrics.conversions else None)
        assert all(
            isinstance(row["metrics"][name], float)
            for name in ("conversions", "conversionsValue")
            if name in row["metrics"]
        )
    assert any("conversions" not in row["metrics"] for row in body["results"])


def test_days_without_delivery_have_no_row(emulator: httpx.Client, customer_id: str) -> None:
    idle = [
        (campaign.id, day.isoformat())
        for day in synthetic.days(START, END)
        for campaign in synthetic.campaigns("google_ads", customer_id)
        if (metrics := synthetic.campaign_day("google_ads", customer_id, campaign, day)) and not metrics.impressions
    ]
    rows = search(emulator, customer_id, {"query": daily()}).json()["results"]

    assert idle
    assert not {(row["campaign"]["id"], row["segments"]["date"]) for row in rows} & set(idle)


def test_pages_follow_next_page_token_sent_back_as_page_token(emulator: httpx.Client, customer_id: str) -> None:
    emulator.put(f"/_emulator/faults/google_ads/{customer_id}", json={"page_size": 40})
    body: dict[str, Any] = {"query": daily()}
    pages = []
    while True:
        page = search(emulator, customer_id, body).json()
        pages.append(page)
        if "nextPageToken" not in page:
            break
        body = {"query": daily(), "pageToken": page["nextPageToken"]}

    rows = [row for page in pages for row in page["results"]]
    assert [len(page["results"]) for page in pages[:-1]] == [40] * (len(pages) - 1) and len(pages) > 2
    assert len(rows) == len({(row["campaign"]["id"], row["segments"]["date"]) for row in rows})
    assert len(rows) == len(delivered(customer_id, START, END))


def test_an_empty_result_has_no_results_key(emulator: httpx.Client, customer_id: str) -> None:
    body = search(emulator, customer_id, {"query": daily(date(2015, 1, 1), date(2015, 1, 31))}).json()

    assert set(body) == {"fieldMask", "requestId"}


def test_the_customer_query_describes_the_account(emulator: httpx.Client, customer_id: str) -> None:
    (row,) = search(emulator, customer_id, {"query": CUSTOMER}).json()["results"]

    account = synthetic.account("google_ads", customer_id)
    assert row == {
        "customer": {
            "resourceName": f"customers/{customer_id}",
            "id": customer_id,
            "descriptiveName": account.name,
            "currencyCode": account.currency,
            "timeZone": account.timezone,
        }
    }


@pytest.mark.parametrize(
    ("body", "headers", "path_id", "status", "code"),
    [
        ({"query": CUSTOMER, "pageSize": 100}, None, None, 400, {"requestError": "PAGE_SIZE_NOT_SUPPORTED"}),
        ({"query": CUSTOMER}, {"Authorization": HEADERS["Authorization"]}, None, 400,
         {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"}),
        ({"query": CUSTOMER}, None, "123-456-7890", 400, {"requestError": "INVALID_CUSTOMER_ID"}),
        ({"query": CUSTOMER}, {**HEADERS, "login-customer-id": "111-222-3333"}, None, 400,
         {"headerError": "INVALID_LOGIN_CUSTOMER_ID"}),
        ({"query": CUSTOMER}, None, "9876543210", 403, {"authorizationError": "USER_PERMISSION_DENIED"}),
        ({"query": CUSTOMER, "pageToken": "bm90IGEgdG9rZW4="}, None, None, 400, {"requestError": "INVALID_PAGE_TOKEN"}),
        ({"query": "SELECT campaign.id FROM ad_group"}, None, None, 400,
         {"queryError": "PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE"}),
        ({"query": "SELECT campaign.bidding FROM campaign"}, None, None, 400, {"queryError": "UNRECOGNIZED_FIELD"}),
        ({"query": "SELECT campaign.id, segments.date FROM campaign"}, None, None, 400,
         {"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"}),
        ({"query": "campaigns please"}, None, None, 400, {"queryError": "QUERY_ERROR"}),
        ({"query": CUSTOMER}, {**HEADERS, "Authorization": "Bearer expired-0001"}, None, 401,
         {"authenticationError": "OAUTH_TOKEN_EXPIRED"}),
        ({"query": CUSTOMER}, {**HEADERS, "Authorization": "Bearer revoked-0001"}, None, 401,
         {"authenticationError": "OAUTH_TOKEN_REVOKED"}),
    ],
    ids=["page_size", "no_developer_token", "dashed_customer", "dashed_manager", "needs_manager", "bad_page_token",
         "other_resource", "unknown_field", "no_date_range", "not_gaql", "expired_token", "revoked_token"],
)  # fmt: skip
def test_refusals_come_in_google_s_envelope_with_a_google_ads_failure(
    emulator: httpx.Client,
    customer_id: str,
    body: dict[str, Any],
    headers: dict[str, str] | None,
    path_id: str | None,
    status: int,
    code: dict[str, str],
) -> None:
    response = search(emulator, path_id or customer_id, body, headers)

    assert response.status_code == status
    assert response.json()["error"]["code"] == status
    assert failure_code(response) == code


def test_a_page_token_only_continues_its_own_query(emulator: httpx.Client, customer_id: str) -> None:
    emulator.put(f"/_emulator/faults/google_ads/{customer_id}", json={"page_size": 5})
    token = search(emulator, customer_id, {"query": daily()}).json()["nextPageToken"]

    other = search(emulator, customer_id, {"query": daily(START + timedelta(days=1)), "pageToken": token})

    assert failure_code(other) == {"requestError": "INVALID_PAGE_TOKEN"}


def test_a_missing_token_gets_the_bare_401(emulator: httpx.Client, customer_id: str) -> None:
    response = search(emulator, customer_id, {"query": CUSTOMER}, {"developer-token": "dev-token-0001"})

    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED" and "details" not in response.json()["error"]


def test_a_throttle_says_when_to_come_back(emulator: httpx.Client, customer_id: str) -> None:
    emulator.put(f"/_emulator/faults/google_ads/{customer_id}", json={"rate_limit": 1, "retry_after_seconds": 7})

    response = search(emulator, customer_id, {"query": CUSTOMER})

    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert failure_code(response) == {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}
    error = response.json()["error"]["details"][0]["errors"][0]
    assert error["details"]["quotaErrorDetails"]["retryDelay"] == "7s"
    assert search(emulator, customer_id, {"query": CUSTOMER}).status_code == 200
