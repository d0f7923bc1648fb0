"""What a platform says of its call budget while Tally talks to it, and the waits it asks for.

Each platform reports its budget its own way: Meta in the ``X-Business-Use-Case-Usage`` and ``X-Ad-Account-Usage``
headers (percentages, and minutes until access is regained), Shopify in ``X-Shopify-Shop-Api-Call-Limit``
(``32/40`` of its leaky bucket), Google Ads only in a quota error (with a ``retryDelay``), GA4 in the
``propertyQuota`` of a report. Each client turns its platform's report into a ``BudgetReading``; one ``Budget``
collects the readings and the waits of one load or one connection test, so the load's metadata can say how long it
waited and why, and the connection's health what the platform last reported.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.requests.retry import _get_retry_response, _make_retry, wait_exponential_retry_after
from tenacity import RetryCallState

# Above this share of its budget a platform's budget is nearly spent (Meta throttles at 100%).
NEARLY_SPENT_PCT = 90.0
SECONDS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*$")


@dataclass(frozen=True)
class BudgetReading:
    """One report of a platform's budget: where it came from, the share used, and any wait the platform asks for.

    ``asked`` says in the platform's terms what the wait is based on (``"Retry-After: 2"``,
    ``"retryDelay 30s"``, ``"estimated_time_to_regain_access 1 min"``); ``wait_s`` is that wait in seconds.
    """

    source: str
    used_pct: float | None
    detail: dict[str, Any]
    wait_s: float | None = None
    asked: str | None = None

    @property
    def nearly_spent(self) -> bool:
        """Whether the platform reports more than ``NEARLY_SPENT_PCT`` of its budget used."""
        return self.used_pct is not None and self.used_pct > NEARLY_SPENT_PCT

    def stored(self, reported_at: datetime) -> dict[str, Any]:
        """The reading as the connection's health keeps it (JSON)."""
        return {
            "source": self.source,
            "used_pct": None if self.used_pct is None else round(self.used_pct, 2),
            "nearly_spent": self.nearly_spent,
            "retry_after_s": self.wait_s,
            "detail": self.detail,
            "reported_at": reported_at.isoformat(),
        }


@dataclass(frozen=True)
class BudgetWait:
    """One wait for the platform's budget: how long, and why in the platform's own terms."""

    seconds: float
    reason: str


@dataclass
class Budget:
    """The readings and waits of one load or connection test; shared by every HTTP layer it runs (thread-safe)."""

    last: BudgetReading | None = None
    reported_at: datetime | None = None
    waits: list[BudgetWait] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def report(self, reading: BudgetReading) -> None:
        """Keep the platform's latest report."""
        with self._lock:
            self.last, self.reported_at = reading, datetime.now(UTC)

    def waited(self, seconds: float, reason: str) -> None:
        """Record a wait made for the platform's budget."""
        with self._lock:
            self.waits.append(BudgetWait(round(seconds, 3), reason))

    def waited_seconds(self) -> float:
        """Every wait added up."""
        with self._lock:
            return round(sum(wait.seconds for wait in self.waits), 3)

    def stored_reading(self) -> dict[str, Any] | None:
        """The latest report as the connection's health keeps it, or None when the platform reported nothing."""
        with self._lock:
            if self.last is None or self.reported_at is None:
                return None
            return self.last.stored(self.reported_at)


BudgetReader = Callable[[requests.Response, Any], "BudgetReading | None"]


def retry_after_seconds(response: requests.Response) -> float | None:
    """The ``Retry-After`` header in seconds (a number, fractional as Shopify sends it, or an HTTP date)."""
    header = response.headers.get("Retry-After")
    if not header:
        return None
    match = SECONDS.match(header)
    if match:
        return float(match.group(1))
    try:
        return max(0.0, (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def retry_after_reading(response: requests.Response) -> BudgetReading | None:
    """A throttle's ``Retry-After`` as a reading of a spent budget, for platforms that say no more than that."""
    if response.status_code != 429:
        return None
    seconds = retry_after_seconds(response)
    asked = f"Retry-After: {response.headers['Retry-After']}" if seconds is not None else None
    return BudgetReading("HTTP 429", 100.0, {"status": 429}, wait_s=seconds, asked=asked)


class BudgetPacing:
    """Waits as the platform asks, on dlt's retrying session, and records each wait in a ``Budget``.

    Two kinds of wait. A throttled answer (429, or a platform's throttle code) is retried by dlt's tenacity
    session after the delay the platform asks for (``Retry-After``, else its report's ``BudgetReading.wait_s``
    such as Google's ``retryDelay`` or Meta's time to regain access, else dlt's exponential backoff), recorded by
    the session's ``before_sleep`` hook. A successful answer that reports the budget nearly spent and asks for a
    pause (Meta's time to regain access, Shopify's full bucket) is paused on in the response hook, before the next
    call is made. Both are capped at ``max_delay`` seconds.
    """

    def __init__(
        self,
        display_name: str,
        budget: Budget,
        read_budget: BudgetReader,
        is_throttle: Callable[[requests.Response, Any], bool],
        max_delay: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.display_name = display_name
        self.budget = budget
        self._read_budget = read_budget
        self._is_throttle = is_throttle
        self._max_delay = max_delay
        self._sleep = sleep

    def reading(self, response: requests.Response, body: Any) -> BudgetReading | None:
        """What this answer says of the budget, throttles without a report of their own included."""
        reading = self._read_budget(response, body)
        if reading is None and self._is_throttle(response, body):
            reading = retry_after_reading(response)
        return reading

    def observe(self, response: requests.Response, body: Any, throttled: bool) -> None:
        """Record the answer's report; pause before the next call when a successful answer asks for it."""
        reading = self.reading(response, body)
        if reading is None:
            return
        self.budget.report(reading)
        if throttled or not reading.nearly_spent or not reading.wait_s:
            return
        seconds = min(reading.wait_s, self._max_delay)
        self._sleep(seconds)
        self.budget.waited(seconds, f"{self.display_name} reported {reading.used_pct:.0f}% used ({reading.asked})")

    def wait_strategy(self, backoff_factor: float) -> wait_exponential_retry_after:
        """dlt's exponential wait, unless the platform asks for a delay: ``Retry-After`` (fractional seconds too,
        which dlt's own parser refuses), else the wait its budget report names."""
        pacing = self

        class PlatformDelay(wait_exponential_retry_after):
            def __call__(self, retry_state: RetryCallState) -> float:
                response = _get_retry_response(retry_state)
                if response is None:
                    return super().__call__(retry_state)
                asked = retry_after_seconds(response)
                if asked is None:
                    reading = pacing.reading(response, json_or_none(response))
                    asked = reading.wait_s if reading is not None else None
                if asked:
                    return max(self.min, min(self.max, asked))
                return super().__call__(retry_state)

        return PlatformDelay(multiplier=backoff_factor, max=self._max_delay)

    def before_sleep(self, retry_state: RetryCallState) -> None:
        """Record a retry's wait when the answer was a throttle (other retries are not the budget's)."""
        response = _get_retry_response(retry_state)
        if response is None or retry_state.next_action is None:
            return
        body = json_or_none(response)
        if not self._is_throttle(response, body):
            return
        reading = self.reading(response, body)
        if retry_after_seconds(response) is not None:
            why = f"Retry-After: {response.headers['Retry-After']}"
        elif reading is not None and reading.asked:
            why = reading.asked
        else:
            why = "no wait asked: exponential backoff"
        seconds = retry_state.next_action.sleep
        self.budget.waited(seconds, f"{self.display_name} throttled with HTTP {response.status_code} ({why})")


class PacedClient(Client):
    """dlt's retrying requests client whose waits follow the platform's budget (``BudgetPacing``)."""

    def __init__(self, pacing: BudgetPacing, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pacing = pacing

    def _make_session(self) -> Any:
        session = super()._make_session()
        # dlt wrapped ``send`` with its own Retrying; wrap the unwrapped send with a copy that paces as asked.
        retry = _make_retry(**self._retry_kwargs).copy(
            wait=self._pacing.wait_strategy(self._retry_kwargs["backoff_factor"]),
            before_sleep=self._pacing.before_sleep,
        )
        session.send = retry.wraps(type(session).send.__get__(session))  # type: ignore[method-assign]
        return session


def json_or_none(response: requests.Response) -> Any:
    """The response's JSON body, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
