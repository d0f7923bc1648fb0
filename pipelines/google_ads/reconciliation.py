"""Google Ads' own totals of a customer over a range of local days: GAQL ``FROM customer`` with metrics, for the
reconciliation check that compares them with the sum of the campaign rows Tally loaded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipelines.google_ads.client import access_token, api_client, between, gaql, google_ads_http, search_pages
from pipelines.google_ads.credentials import GoogleAdsCredentials
from tally.settings import Settings

MICROS = Decimal(1_000_000)
# Our metric, its GAQL field and the field's JSON name; money is in micros.
METRICS = (
    ("spend", "metrics.cost_micros", "costMicros"),
    ("impressions", "metrics.impressions", "impressions"),
    ("clicks", "metrics.clicks", "clicks"),
    ("conversions", "metrics.conversions", "conversions"),
    ("conversion_value", "metrics.conversions_value", "conversionsValue"),
)


def account_totals(credentials: GoogleAdsCredentials, start: date, end: date, settings: Settings) -> dict[str, Decimal]:
    """The customer's cost, impressions, clicks, conversions and conversion value over the days, from one
    GAQL query on the customer resource (zero values are left out of proto3 JSON: absent is 0)."""
    http = google_ads_http(settings, credentials)
    client = api_client(http, credentials, access_token(http, credentials))
    query = gaql([field for _, field, _ in METRICS], "customer", between(start, end))
    totals = {metric: Decimal(0) for metric, _, _ in METRICS}
    for page in search_pages(http, client, credentials.customer_id, query):
        for row in page:
            values = row.get("metrics", {})
            for metric, _, name in METRICS:
                totals[metric] += Decimal(str(values.get(name, 0)))
    totals["spend"] /= MICROS
    return totals
