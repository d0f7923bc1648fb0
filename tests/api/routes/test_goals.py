"""Goals: stored per company, replaced as a set, and tracked by GET /results against the period's pace."""

from __future__ import annotations

import httpx
import pytest

MID_MARCH = {"period_type": "month", "period_end": "2024-03-15"}  # 15 of March's 31 days elapsed
PACE = 15 / 31


def metrics(results: httpx.Client, params: dict[str, str] = MID_MARCH) -> dict[str, dict]:
    body = results.get("/api/clients/acme/results", params=params).json()
    return {metric["metric_key"]: metric for metric in body["metrics"]}


def test_goals_are_replaced_as_a_set_and_listed(results: httpx.Client) -> None:
    assert results.get("/api/clients/acme/goals").json() == {"goals": []}
    first = [
        {"metric_key": "spend", "period_type": "month", "target": 1000},
        {"metric_key": "roas", "period_type": "quarter", "target": 2.5},
    ]
    response = results.put("/api/clients/acme/goals", json={"goals": first})
    assert response.status_code == 200
    assert response.json() == {"goals": sorted(first, key=lambda g: (g["period_type"], g["metric_key"]))}
    second = [{"metric_key": "cpa", "period_type": "month", "target": 12.5}]
    assert results.put("/api/clients/acme/goals", json={"goals": second}).json() == {"goals": second}
    assert results.get("/api/clients/acme/goals").json() == {"goals": second}
    assert results.get("/api/clients/globex/goals").json() == {"goals": []}
    assert results.put("/api/clients/acme/goals", json={"goals": []}).json() == {"goals": []}


@pytest.mark.parametrize(
    ("goal", "message"),
    [
        ({"metric_key": "likes", "period_type": "month", "target": 1}, "Input should be 'spend'"),
        ({"metric_key": "spend", "period_type": "decade", "target": 1}, "Input should be 'week', 'month'"),
        ({"metric_key": "spend", "period_type": "month", "target": 0}, "greater than 0"),
        ({"metric_key": "spend", "period_type": "month", "target": "lots"}, "valid number"),
        ({"metric_key": "spend", "period_type": "month"}, "Field required"),
    ],
)
def test_invalid_goals_are_422_and_change_nothing(results: httpx.Client, goal: dict, message: str) -> None:
    kept = [{"metric_key": "clicks", "period_type": "week", "target": 100.0}]
    results.put("/api/clients/acme/goals", json={"goals": kept})
    response = results.put("/api/clients/acme/goals", json={"goals": [goal]})
    assert response.status_code == 422
    assert message in str(response.json()["detail"])
    assert results.get("/api/clients/acme/goals").json() == {"goals": kept}


def test_two_goals_for_one_metric_and_period_are_422(results: httpx.Client) -> None:
    goal = {"metric_key": "spend", "period_type": "month", "target": 10}
    response = results.put("/api/clients/acme/goals", json={"goals": [goal, goal | {"target": 20}]})
    assert response.status_code == 422
    assert "more than one goal for spend per month" in str(response.json()["detail"])


def test_metrics_are_tracked_against_their_goals(results: httpx.Client) -> None:
    values = {key: metric["value"] for key, metric in metrics(results).items()}
    # Each target is set so the value lands at a known share of it (totals: of the target paced to 15/31 days).
    targets = {
        "spend": (values["spend"] / PACE / 1.2, "at_risk"),  # 20% over pace: over-spending is a risk too
        "conversions": (values["conversions"] / PACE / 0.95, "at_risk"),  # 95% of pace
        "revenue": (values["revenue"] / PACE / 1.05, "on_track"),  # 105% of pace
        "clicks": (values["clicks"] / PACE / 0.5, "off_track"),  # half of pace
        "impressions": (values["impressions"] / PACE / 1.01, "on_track"),  # just over pace
        "cpa": (values["cpa"] / 1.05, "at_risk"),  # 5% over a cost target
        "cpc": (values["cpc"] * 2, "on_track"),  # half the cost target
        "cpm": (values["cpm"] / 1.5, "off_track"),  # 50% over a cost target
        "roas": (values["roas"] * 0.9, "on_track"),  # above a rate target, no pacing
        "ctr": (values["ctr"] * 1.5, "off_track"),  # two thirds of a rate target
    }
    goals = [{"metric_key": key, "period_type": "month", "target": target} for key, (target, _) in targets.items()]
    goals.append({"metric_key": "sessions", "period_type": "quarter", "target": 1})
    assert results.put("/api/clients/acme/goals", json={"goals": goals}).status_code == 200
    tracked = metrics(results)
    for key, (target, status) in targets.items():
        assert (tracked[key]["target"], tracked[key]["tracking_status"]) == (pytest.approx(target), status), key
    # A quarterly goal does not apply to a month, and metrics without a goal have neither target nor status.
    for key in ("sessions", "orders", "reach"):
        assert (tracked[key]["target"], tracked[key]["tracking_status"]) == (None, None), key
    quarter = metrics(results, {"period_type": "quarter", "period_end": "2024-03-15"})
    assert quarter["sessions"]["target"] == 1 and quarter["sessions"]["tracking_status"] == "on_track"
