"""GA4's own totals of a property over a range of local days: ``runReport`` without the campaign and
source/medium dimensions, for the reconciliation check that compares them with the rows Tally loaded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipelines.ga4.client import access_token, data_client, ga4_http
from pipelines.ga4.credentials import GA4Credentials
from tally.settings import Settings

METRICS = {"sessions": "sessions", "key_events": "keyEvents"}


def account_totals(credentials: GA4Credentials, start: date, end: date, settings: Settings) -> dict[str, Decimal]:
    """The property's sessions and key events over the days: one report row with no dimensions at all."""
    http = ga4_http(settings)
    client = data_client(http, access_token(http, credentials))
    body = http.post_json(
        client,
        f"properties/{credentials.property_id}:runReport",
        json={
            "dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
            "metrics": [{"name": name} for name in METRICS.values()],
        },
    )
    totals = dict.fromkeys(METRICS, Decimal(0))
    for row in body.get("rows") or [] if isinstance(body, dict) else []:
        for metric, cell in zip(METRICS, row["metricValues"], strict=True):
            totals[metric] += Decimal(cell["value"])
    return totals
