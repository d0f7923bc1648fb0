"""Fixtures of the Meta Ads tests: an ad account of each test's own."""

from __future__ import annotations

import pytest

from tests.pipelines.loading import unique_busy_id
from tests.pipelines.meta_ads.served import END, START, delivered

# Campaign-days with delivery in START..END: enough for many small pages, few enough to keep the tests quick.
BUSY = range(150, 700)


@pytest.fixture()
def ad_account_id(request: pytest.FixtureRequest) -> str:
    """A digits-only ad account id unique to this test (stable across runs), with a moderate amount of data."""
    return unique_busy_id(
        request.node.nodeid,
        lambda base, n: f"{base:010d}{n:03d}",
        lambda candidate: len(delivered(candidate, START, END)) in BUSY,
    )
