"""How the templates write figures: metric names, amounts with currencies, changes in percent."""

from __future__ import annotations

from typing import Any

LABELS = {
    "spend": "spend",
    "impressions": "impressions",
    "clicks": "clicks",
    "conversions": "conversions",
    "conversion_value": "conversion value",
    "reach": "reach",
    "roas": "ROAS",
    "cpa": "CPA",
    "cpm": "CPM",
    "cpc": "CPC",
    "ctr": "CTR",
    "revenue": "revenue",
    "orders": "orders",
    "sessions": "sessions",
    "key_events": "key events",
}
# The metrics a summary names first, in this order, when the company has them.
HEADLINE_METRICS = ("spend", "conversions", "conversion_value", "roas", "cpa", "revenue")


def figure(metric_key: str, value: float | None, currency: str | None = None) -> str:
    """A metric's value as a reader expects it: ``USD 1,234.50``, ``2.10``, ``1.8%``, ``12,345``."""
    if value is None:
        return "n/a"
    if metric_key == "ctr":
        return f"{value:.2f}%"
    if metric_key == "roas":
        return f"{value:.2f}"
    if currency:
        return f"{currency} {value:,.2f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def change(delta_pct: float | None) -> str:
    """A change in percent with its sign, or a note that there is nothing to compare with."""
    return "no prior figure" if delta_pct is None else f"{delta_pct:+.1f}% vs prior"


def metric_phrase(metric: dict[str, Any]) -> str:
    """``spend USD 1,234.50 (+12.0% vs prior)``, or ``(no prior figure)``."""
    label = LABELS.get(metric["metric_key"], metric["metric_key"])
    value = figure(metric["metric_key"], metric["value"], metric["currency"])
    return f"{label} {value} ({change(metric['delta_pct'])})"


def headline(metrics: list[dict[str, Any]]) -> str:
    """The headline metrics the company has, as one clause each."""
    chosen = [metric for key in HEADLINE_METRICS for metric in metrics if metric["metric_key"] == key]
    return "; ".join(metric_phrase(metric) for metric in chosen)


def goals_to_watch(metrics: list[dict[str, Any]]) -> list[str]:
    """The goals not on track, as ``CPA off track (target 20.00)``."""
    return [
        f"{LABELS.get(m['metric_key'], m['metric_key'])} {m['tracking_status'].replace('_', ' ')} "
        f"(target {figure(m['metric_key'], m['target'], m['currency'])})"
        for m in metrics
        if m.get("tracking_status") in ("at_risk", "off_track")
    ]


def campaign_phrase(campaign: dict[str, Any]) -> str:
    """A campaign as data in a sentence: its name quoted, its platform and spend."""
    spend = figure("spend", campaign["spend"], campaign["currency"])
    return (
        f'"{campaign["campaign_name"]}" ({campaign["platform"]}, spend {spend}, {change(campaign["spend_delta_pct"])})'
    )
