"""The revision log on hand-written raw rows, on DuckDB and PostgreSQL: a re-load that changes a day logs each
changed metric with its previous and new value; one that changes nothing, a first load, and another client's
rows log nothing. The expected revisions are written out by hand from ``ACME_RAW``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tally.settings import Settings
from tests.warehouse.raw_tables import (
    ACME_RAW,
    SEP_1,
    SEP_2,
    globex_meta,
    replace_raw,
    write_acme,
    write_raw,
)
from warehouse.models import query, warehouse_transaction
from warehouse.revisions import revision_capture
from warehouse.serving import open_marts, refresh_marts

META = "raw_meta_ads.campaign_daily"
SEEN = datetime(2026, 9, 20, 4, 0, tzinfo=UTC)


def restated_meta(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """acme's Meta rows with some campaign-days' fields changed, keyed by ``<campaign>_<day of month>``."""
    rows = []
    for row in ACME_RAW[META]:
        key = f"{row['campaign_id']}_{row['date'].day}"
        if key in changes and changes[key] is None:
            continue  # restated to nothing: the platform no longer returns the row
        rows.append(row | changes.get(key, {}))
    return rows


def reload(settings: Settings, company: str, table: str, rows: list[dict[str, Any]], platform: str) -> int:
    """Replace a company's raw rows of Sep 1-2 as a load does, inside a revision capture; the revisions logged."""
    with revision_capture(settings, company, platform, SEP_1, SEP_2) as capture:
        replace_raw(settings, table, company, rows)
        return capture.after(SEEN).revisions


def revision_log(settings: Settings) -> set[tuple[Any, ...]]:
    with warehouse_transaction(settings) as warehouse:
        rows = query(
            warehouse,
            "select company_id, platform, campaign_id, date, metric_key, previous_value, new_value, change, "
            "currency, seen_at from marts.revision_log",
        )
        leftovers = query(warehouse, "select count(*) from revisions.day_values")
    assert leftovers == [(0,)], "a load removes its own captures"
    return {
        (c, p, k, d if isinstance(d, date) else date.fromisoformat(str(d)), m, Decimal(prev), Decimal(new),
         Decimal(change), cur, seen.replace(tzinfo=UTC))
        for c, p, k, d, m, prev, new, change, cur, seen in rows
    }  # fmt: skip


def test_a_re_pull_logs_each_changed_number_and_nothing_else(empty_warehouse: Settings) -> None:
    write_acme(empty_warehouse)
    write_raw(empty_warehouse, META, globex_meta("100"))
    # m1's Sep 1 is restated (spend 10.50 -> 20.50, conversions 2 -> 5) and m2's Sep 1 to nothing.
    restated = restated_meta(m1_1={"spend": "20.50", "conversions": "5"}, m2_1=None)

    assert reload(empty_warehouse, "acme", META, restated, "meta_ads") == 2 + 5

    d = Decimal
    assert revision_log(empty_warehouse) == {
        ("acme", "meta_ads", "m1", SEP_1, "spend", d("10.5"), d("20.5"), d(10), "USD", SEEN),
        ("acme", "meta_ads", "m1", SEP_1, "conversions", d(2), d(5), d(3), None, SEEN),
        ("acme", "meta_ads", "m2", SEP_1, "spend", d("1.25"), d(0), d("-1.25"), "USD", SEEN),
        ("acme", "meta_ads", "m2", SEP_1, "impressions", d(100), d(0), d(-100), None, SEEN),
        ("acme", "meta_ads", "m2", SEP_1, "clicks", d(5), d(0), d(-5), None, SEEN),
        ("acme", "meta_ads", "m2", SEP_1, "conversions", d(1), d(0), d(-1), None, SEEN),
        ("acme", "meta_ads", "m2", SEP_1, "conversion_value", d("15.5"), d(0), d("-15.5"), "USD", SEEN),
    }


def test_an_identical_re_pull_and_a_first_load_log_nothing(empty_warehouse: Settings) -> None:
    # A first load: the days had no rows before, so nothing was revised.
    with revision_capture(empty_warehouse, "acme", "meta_ads", SEP_1, SEP_2) as capture:
        write_raw(empty_warehouse, META, ACME_RAW[META])
        assert capture.after(SEEN).revisions == 0
    assert reload(empty_warehouse, "acme", META, ACME_RAW[META], "meta_ads") == 0
    write_raw(empty_warehouse, "raw_shopify.daily_sales", ACME_RAW["raw_shopify.daily_sales"])
    sales = [row | {"revenue": "99.00"} if row["date"] == SEP_2 else row for row in ACME_RAW["raw_shopify.daily_sales"]]

    assert reload(empty_warehouse, "acme", "raw_shopify.daily_sales", sales, "shopify") == 1

    assert revision_log(empty_warehouse) == {
        ("acme", "shopify", "", SEP_2, "revenue", Decimal("30.5"), Decimal(99), Decimal("68.5"), "USD", SEEN)
    }


def test_the_served_log_lists_the_revisions_newest_first_with_their_totals(empty_warehouse: Settings) -> None:
    write_acme(empty_warehouse)
    later = datetime(2026, 9, 21, 4, 0, tzinfo=UTC)
    reload(empty_warehouse, "acme", META, restated_meta(m1_1={"spend": "20.50"}), "meta_ads")
    with revision_capture(empty_warehouse, "acme", "meta_ads", SEP_1, SEP_2) as capture:
        replace_raw(empty_warehouse, META, "acme", restated_meta(m1_1={"spend": "25.00"}, m1_2={"clicks": "12"}))
        assert capture.after(later).revisions == 2
    refresh_marts(empty_warehouse, ["acme"])

    marts = open_marts(empty_warehouse)
    try:
        with marts.session("acme") as session:
            params = {"company_id": "acme", "platform": None, "since": None}
            rows = session.rows("revisions", **params)
            totals = session.rows("revision_totals", **params)
            recent = session.rows("revisions", **params | {"since": date(2026, 9, 21)})
            other = session.rows("revisions", **params | {"platform": "google_ads"})
    finally:
        marts.close()
    assert [(r["campaign_id"], r["date"], r["metric_key"], r["previous_value"], r["new_value"]) for r in rows] == [
        ("m1", SEP_2, "clicks", 10.0, 12.0),  # the later load first, then by day, newest first
        ("m1", SEP_1, "spend", 20.5, 25.0),
        ("m1", SEP_1, "spend", 10.5, 20.5),
    ]
    assert [(t["metric_key"], t["currency"], t["change"], t["revisions"]) for t in totals] == [
        ("clicks", None, 2.0, 1),
        ("spend", "USD", 14.5, 2),
    ]
    assert len(recent) == 2 and other == []
