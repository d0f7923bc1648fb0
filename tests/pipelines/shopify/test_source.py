"""Loading Shopify orders through dlt into DuckDB, against the emulator over loopback HTTP."""

from __future__ import annotations

import logging
import math
import traceback
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import dlt
import httpx
import polars as pl
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import shopify
from pipelines.emulator import synthetic
from pipelines.emulator.shopify import INVALID_TOKEN, orders_on
from pipelines.shopify.settings import REVENUE_TYPE
from pipelines.shopify.source import daily_sales_frame
from tally.errors import PlatformAuthError, PlatformResponseError
from tally.settings import Settings
from tests.pipelines.loading import (
    assert_no_secret_in_files,
    assert_no_secret_logged_or_raised,
    platform_error,
    query,
    requests_made,
    run_source,
)

END = date.today() - timedelta(days=2)


def new_shop(kind: str = "usd") -> str:
    """A store of its own per test; a handle containing ``eur`` is a euro store in Berlin."""
    return f"src-{kind}-{uuid4().hex[:8]}"


def credentials(shop: str, token: str = "shpat_load") -> shopify.ShopifyCredentials:
    return shopify.ShopifyCredentials(store_url=f"{shop}.myshopify.com", access_token=token)


def load(settings: Settings, creds: shopify.ShopifyCredentials, start: date, end: date = END) -> dlt.Pipeline:
    return run_source("shopify", shopify.source, settings, creds, creds.shop, start, end)


def served(shop: str, days: list[date], late: int = 0) -> list[dict[str, Any]]:
    """Every order the emulator has for those local days."""
    return [order for day in days for order in orders_on(shop, day, late)]


def sales(orders: list[dict[str, Any]]) -> tuple[int, Decimal]:
    """Orders count and revenue as daily_sales should compute them: test and cancelled orders left out."""
    counted = [o for o in orders if not o["test"] and o["cancelled_at"] is None]
    return len(counted), sum((Decimal(o["total_price"]) for o in counted), Decimal(0))


@pytest.mark.parametrize("kind", ["usd", "eur"])
def test_a_90_day_pull_loads_exactly_the_orders_the_store_served(
    emulator: httpx.Client, settings: Settings, kind: str
) -> None:
    shop, page_size = new_shop(kind), 7
    emulator.put(f"/_emulator/faults/shopify/{shop}", json={"page_size": page_size})
    days = synthetic.days(END - timedelta(days=89), END)
    load(settings, credentials(shop), days[0])

    orders = served(shop, days)
    account = synthetic.account("shopify", shop)
    loaded = query(
        settings,
        "select id, date, created_at, total_price, company_id, account_id, currency, account_timezone "
        "from raw_shopify.orders order by id",
    )
    assert [row[0] for row in loaded] == sorted(order["id"] for order in orders)
    assert sum(Decimal(row[3]) for row in loaded) == sum(Decimal(order["total_price"]) for order in orders)
    assert all(row[1] == date.fromisoformat(row[2][:10]) for row in loaded)
    assert {row[4:] for row in loaded} == {(f"co-{shop}", shop, account.currency, account.timezone)}
    daily = query(settings, "select date, orders_count, revenue, currency from raw_shopify.daily_sales order by date")
    assert daily == [(day, *sales(orders_on(shop, day)), account.currency) for day in days]
    assert requests_made(emulator, "shopify", shop) == 2 + max(1, math.ceil(len(orders) / page_size))


@pytest.mark.parametrize("fault", [{"rate_limit": 2, "retry_after_seconds": 1}, {"server_error": 2}])
def test_retries_survive_throttling_and_server_errors(
    emulator: httpx.Client, settings: Settings, fault: dict[str, int]
) -> None:
    shop, page_size = new_shop(), 50
    emulator.put(f"/_emulator/faults/shopify/{shop}", json={**fault, "page_size": page_size})
    days = synthetic.days(END - timedelta(days=29), END)
    load(settings, credentials(shop), days[0])

    orders = served(shop, days)
    assert query(settings, "select count(*) from raw_shopify.orders") == [(len(orders),)]
    assert requests_made(emulator, "shopify", shop) == 2 + max(1, math.ceil(len(orders) / page_size)) + 2


def test_an_expired_token_fails_the_load_naming_shopify_and_the_cause(
    emulator: httpx.Client, settings: Settings
) -> None:
    token = f"expired-shpat-{uuid4().hex}"
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(new_shop(), token), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformAuthError)
    assert error.message == f"Shopify: {INVALID_TOKEN}"
    assert token not in "".join(traceback.format_exception(failed.value))


def test_a_reload_leaves_no_duplicate_and_a_narrower_pull_replaces_only_its_days(
    emulator: httpx.Client, settings: Settings
) -> None:
    shop = new_shop()
    days = synthetic.days(END - timedelta(days=29), END)
    per_day = "select date, count(*), count(distinct id) from raw_shopify.orders group by date order by date"
    load(settings, credentials(shop), days[0])
    first = query(settings, per_day)
    load(settings, credentials(shop), days[0])
    assert query(settings, per_day) == first
    assert all(count == distinct for _, count, distinct in first)

    # Late orders arrive for recent days; two lists came before this one, so each recent day gains two.
    emulator.put(f"/_emulator/faults/shopify/{shop}", json={"late_attribution": True})
    recent = days[-5:]
    load(settings, credentials(shop), recent[0])
    expected = {day: len(orders_on(shop, day, late=2 if day in recent else 0)) for day in days}
    assert {day: count for day, count, _ in query(settings, per_day)} == {d: n for d, n in expected.items() if n}
    daily = query(settings, "select date, orders_count, revenue from raw_shopify.daily_sales order by date")
    assert daily == [(day, *sales(orders_on(shop, day, late=2 if day in recent else 0))) for day in days]


def test_without_read_all_orders_the_days_past_60_are_marked_and_logged(
    emulator: httpx.Client, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    shop = new_shop()
    days = synthetic.days(END - timedelta(days=89), END)
    with caplog.at_level(logging.WARNING, logger="pipelines.shopify"):
        load(settings, credentials(shop, "limited-shpat"), days[0])

    zone = ZoneInfo(synthetic.account("shopify", shop).timezone)
    first_visible = (datetime.now(UTC) - timedelta(days=60)).astimezone(zone).date() + timedelta(days=1)
    visible = [day for day in days if day >= first_visible]
    assert query(settings, "select date, orders_visible, missing_scope from raw_shopify.coverage order by date") == [
        (day, day in visible, None if day in visible else "read_all_orders") for day in days
    ]
    assert query(settings, "select count(*), min(date) >= ? from raw_shopify.orders", first_visible) == [
        (len(served(shop, visible)), True)
    ]
    assert [row[0] for row in query(settings, "select date from raw_shopify.daily_sales order by date")] == visible
    (warning,) = [record for record in caplog.records if record.name == "pipelines.shopify.source"]
    assert warning.levelname == "WARNING"
    assert f"account_id={shop} missing_scope=read_all_orders" in warning.getMessage()
    assert f"first={days[0]} last={first_visible - timedelta(days=1)}" in warning.getMessage()


def test_no_token_reaches_logs_errors_or_dlt_files(
    emulator: httpx.Client, settings: Settings, caplog: pytest.LogCaptureFixture, dlt_debug_logs: None
) -> None:
    sentinel = f"shpat_SENTINEL_{uuid4().hex}"
    shop = new_shop()
    assert shopify.test_connection(credentials(shop, sentinel), settings).success
    load(settings, credentials(shop, sentinel), END - timedelta(days=13))
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(new_shop(), f"expired-{sentinel}"), END - timedelta(days=13))

    assert any(r.name == "dlt" and "Making GET request" in r.getMessage() for r in caplog.records)
    assert_no_secret_logged_or_raised(caplog.text, failed.value, sentinel)
    assert_no_secret_in_files(settings.data_dir, sentinel)


def test_a_cut_off_answer_is_fetched_again_and_fails_the_load_as_unreadable_when_it_stays_cut(
    emulator: httpx.Client, settings: Settings
) -> None:
    shop = new_shop()
    emulator.put(f"/_emulator/faults/shopify/{shop}", json={"truncate": 1})
    load(settings, credentials(shop), END - timedelta(days=6))  # cut once: fetched again
    emulator.put(f"/_emulator/faults/shopify/{shop}", json={"truncate": 50})
    with pytest.raises(PipelineStepFailed) as failed:
        load(settings, credentials(shop), END - timedelta(days=6))
    error = platform_error(failed.value)
    assert isinstance(error, PlatformResponseError)
    assert error.message == "Shopify: the API answered with invalid JSON"


def test_daily_sales_leave_out_test_and_cancelled_orders_and_give_a_quiet_day_zeros() -> None:
    day, quiet = date(2026, 9, 1), date(2026, 9, 2)
    orders = pl.DataFrame(
        {
            "date": [day, day, day, quiet],
            "total_price": ["10.50", "99.99", "5.00", "20.00"],
            "test": [False, True, False, False],
            "cancelled_at": [None, None, None, "2026-09-02T10:00:00-04:00"],
        }
    )
    days = pl.DataFrame({"date": [day, quiet]})
    daily = daily_sales_frame(orders, days)
    assert daily.rows() == [(day, 2, Decimal("15.50")), (quiet, 0, Decimal("0"))]
    assert daily.schema["revenue"] == REVENUE_TYPE
