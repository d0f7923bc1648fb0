"""The Meta emulator's shapes where a quirk matters: paging, actions, left-out rows, errors."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.pipelines.meta_ads.served import END, START, delivered

BEARER = {"Authorization": "Bearer meta-token"}
PURCHASES = {"purchase", "omni_purchase", "offsite_conversion.fb_pixel_purchase"}


def insights_query(first: date, last: date, **extra: Any) -> dict[str, Any]:
    window = json.dumps({"since": first.isoformat(), "until": last.isoformat()})
    fields = "campaign_id,spend,impressions,clicks,actions,action_values"
    return {"level": "campaign", "time_increment": 1, "time_range": window, "fields": fields, **extra}


def all_pages(emulator: httpx.Client, path: str, params: dict[str, Any], headers: dict[str, str]) -> list[Any]:
    """Every body of a list, following ``paging.next`` (with the token in the header) as a client does.

    The first request goes without the header when ``params`` carry an ``access_token``.
    """
    bodies = [emulator.get(path, params=params, headers={} if "access_token" in params else headers).json()]
    while "next" in bodies[-1].get("paging", {}):
        bodies.append(emulator.get(bodies[-1]["paging"]["next"], headers=headers).json())
    return bodies


def test_paging_next_comes_while_rows_remain_and_never_carries_the_token(
    emulator: httpx.Client, ad_account_id: str
) -> None:
    # The token may come as a query parameter too; Meta would echo it into paging.next, the emulator does not.
    params = insights_query(START, END, limit=100, access_token="query-token")
    bodies = all_pages(emulator, f"/v23.0/act_{ad_account_id}/insights", params, BEARER)

    rows = [row for body in bodies for row in body["data"]]
    assert len(rows) == len(delivered(ad_account_id, START, END)) and len(bodies) > 2
    assert all(set(body["paging"]["cursors"]) == {"before", "after"} for body in bodies)
    assert "next" not in bodies[-1]["paging"]
    for body in bodies[:-1]:
        query = parse_qs(urlsplit(body["paging"]["next"]).query)
        assert "access_token" not in query and query["after"] == [body["paging"]["cursors"]["after"]]
        assert query["limit"] == ["100"] and json.loads(query["time_range"][0])["since"] == START.isoformat()


def without_actions_sometimes(first: int) -> str:
    """An ad account with an awareness campaign-day without purchases: a row the emulator sends no actions for."""
    candidates = (str(n) for n in itertools.count(first))
    return next(
        account
        for account in candidates
        for campaign, _, metrics in delivered(account, START, END)
        if campaign.objective == "OUTCOME_AWARENESS" and not metrics.conversions
    )


def test_insights_leave_out_idle_days_repeat_purchases_and_omit_empty_actions(emulator: httpx.Client) -> None:
    account = without_actions_sometimes(4600)
    params = insights_query(START, END, limit=5000)
    rows = emulator.get(f"/v23.0/act_{account}/insights", params=params, headers=BEARER).json()["data"]

    assert len(rows) == len(delivered(account, START, END))
    assert all(int(row["impressions"]) > 0 and isinstance(row["spend"], str) for row in rows)
    assert all(row["actions"] for row in rows if "actions" in row) and any("actions" not in row for row in rows)
    for row in rows:
        counted = {entry["action_type"]: entry["value"] for entry in row.get("actions", [])}
        valued = {entry["action_type"]: entry["value"] for entry in row.get("action_values", [])}
        assert counted.keys() >= PURCHASES or not PURCHASES & counted.keys()
        assert len({counted[kind] for kind in PURCHASES & counted.keys()}) <= 1
        assert set(valued) in (set(), PURCHASES) and len(set(valued.values())) <= 1
    assert any({entry["action_type"] for entry in row.get("actions", [])} >= PURCHASES for row in rows)
    assert any("link_click" in {entry["action_type"] for entry in row.get("actions", [])} for row in rows)


def test_campaigns_page_with_budgets_in_minor_units_as_strings(emulator: httpx.Client, ad_account_id: str) -> None:
    params = {"fields": "id,name,daily_budget,lifetime_budget,stop_time", "limit": 2}
    bodies = all_pages(emulator, f"/v23.0/act_{ad_account_id}/campaigns", params, BEARER)
    listed = [campaign for body in bodies for campaign in body["data"]]

    assert len(listed) == len({campaign["id"] for campaign in listed}) >= 3
    assert all(len(body["data"]) == 2 for body in bodies[:-1])
    for campaign in listed:
        budgets = [campaign[key] for key in ("daily_budget", "lifetime_budget") if key in campaign]
        assert len(budgets) == 1 and budgets[0].isdigit() and budgets[0].endswith("00")


def test_the_account_node_answers_the_fields_asked_for(emulator: httpx.Client) -> None:
    node = emulator.get("/v23.0/act_42", params={"fields": "name,currency"}, headers=BEARER).json()
    assert set(node) == {"id", "name", "currency"} and node["id"] == "act_42"
    assert set(emulator.get("/v23.0/act_42", headers=BEARER).json()) == {"id", "account_id"}


def error_of(answer: httpx.Response) -> dict[str, Any]:
    error = answer.json()["error"]
    assert error["type"] == "OAuthException" and error["fbtrace_id"]
    return error


@pytest.mark.parametrize(
    ("headers", "code", "subcode"),
    [
        ({}, 104, None),
        ({"Authorization": "Bearer expired-x"}, 190, 463),
        ({"Authorization": "OAuth revoked-x"}, 190, 460),
    ],
)
def test_token_errors_use_metas_envelope(
    emulator: httpx.Client, headers: dict[str, str], code: int, subcode: int | None
) -> None:
    answer = emulator.get("/v23.0/act_42", headers=headers)
    error = error_of(answer)
    assert answer.status_code == 400 and (error["code"], error.get("error_subcode")) == (code, subcode)
    assert (code == 190) is answer.headers.get("WWW-Authenticate", "").startswith('OAuth "Facebook Platform"')


def test_a_throttle_is_a_429_with_retry_after_and_metas_insights_code(emulator: httpx.Client) -> None:
    emulator.put("/_emulator/faults/meta_ads/43", json={"rate_limit": 1, "retry_after_seconds": 7})
    answer = emulator.get("/v23.0/act_43/insights", params=insights_query(END, END), headers=BEARER)
    error = error_of(answer)
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "7")
    assert (error["code"], error["error_subcode"]) == (80004, 2446079)
    assert "x-business-use-case-usage" in answer.headers


def test_a_server_error_is_a_500_with_metas_transient_code(emulator: httpx.Client) -> None:
    emulator.put("/_emulator/faults/meta_ads/44", json={"server_error": 1})
    answer = emulator.get("/v23.0/act_44", headers=BEARER)
    assert answer.status_code == 500 and error_of(answer)["code"] == 2 and error_of(answer)["is_transient"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v23.0/act_45", {"fields": "name,nope"}),
        ("/v23.0/act_45/insights", insights_query(END, END, fields="spend,cost_micros")),
        ("/v23.0/act_45/insights", insights_query(END, END, level="ad")),
        ("/v23.0/act_45/insights", {**insights_query(END, END), "time_range": "{}"}),
        ("/v23.0/act_45/insights", insights_query(END, END - timedelta(days=1))),
        ("/v23.0/act_45/campaigns", {"after": "not a cursor"}),
        ("/v23.0/act_45/campaigns", {"after": "LTU"}),  # a cursor of row -5
    ],
)
def test_a_bad_parameter_is_code_100(emulator: httpx.Client, path: str, params: dict[str, Any]) -> None:
    answer = emulator.get(path, params=params, headers=BEARER)
    assert answer.status_code == 400 and error_of(answer)["code"] == 100
    assert error_of(answer)["message"].startswith("(#100) ")
