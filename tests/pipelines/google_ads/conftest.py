"""Fixtures of the Google Ads tests: a customer of each test's own and its credentials."""

from __future__ import annotations

import pytest

from pipelines.google_ads import GoogleAdsCredentials
from tests.pipelines.google_ads.served import END, START, delivered
from tests.pipelines.loading import unique_busy_id

BUSY = 150  # campaign-days with delivery in START..END: enough for many pages of 7 rows


@pytest.fixture()
def customer_id(request: pytest.FixtureRequest) -> str:
    """A 10-digit customer id unique to this test (stable across runs), busy enough in START..END.

    It starts with 1: ids starting with 9 are, in the emulator, clients reachable only through a manager.
    """
    return unique_busy_id(
        request.node.nodeid,
        lambda base, n: f"1{(base + n) % 10**9:09d}",
        lambda candidate: len(delivered(candidate, START, END)) >= BUSY,
    )


@pytest.fixture()
def credentials(customer_id: str) -> GoogleAdsCredentials:
    """Credentials the emulator accepts for this test's customer."""
    return GoogleAdsCredentials(
        developer_token="dev-token-0001",
        client_id="client.apps.googleusercontent.com",
        client_secret="client-secret-0001",
        refresh_token="refresh-token-0001",
        customer_id=customer_id,
    )
