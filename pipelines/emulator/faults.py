"""The emulator's state: faults switched on per platform and account, token checks, and a request log.

Real platforms have no such switch; tests and the demo flip them through ``/_emulator/`` routes. Every
platform route calls ``EmulatorState.gate`` first, which applies the checks in the order a real gateway
does (token, then throttling, then server faults), and ``EmulatorState.answer`` last, which may cut the body.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pipelines.emulator.synthetic import DayMetrics

LATE_ATTRIBUTION_DAYS = 28


class PlatformErrors(Protocol):
    """How one platform says each kind of failure, in its own words and status codes."""

    def missing_token(self) -> Response: ...

    def expired_token(self) -> Response: ...

    def revoked_token(self) -> Response: ...

    def rate_limited(self, retry_after_seconds: int) -> Response: ...

    def server_error(self) -> Response: ...


class FaultPlan(BaseModel):
    """Misbehaviour of one platform account. Counts are of the next requests; each use spends one."""

    rate_limit: int = Field(default=0, ge=0, description="Answer the next N requests with a throttle.")
    retry_after_seconds: int = Field(default=1, ge=0, description="Retry-After sent with a throttle.")
    server_error: int = Field(default=0, ge=0, description="Answer the next N requests with a 500.")
    truncate: int = Field(default=0, ge=0, description="Cut the next N successful bodies in half.")
    delay_seconds: float = Field(default=0.0, ge=0, le=120, description="Wait this long before each answer.")
    revoke_after: int | None = Field(default=None, ge=0, description="Revoke the token after N requests.")
    late_attribution: bool = Field(default=False, description="Recent days gain conversions on each call.")
    page_size: int | None = Field(default=None, ge=1, description="Serve pages of at most N rows.")
    no_delivery: bool = Field(
        default=False, description="Reports answer with no rows, as after a platform restated every day to nothing."
    )
    account_level_gap_pct: float = Field(
        default=0.0,
        ge=-50,
        le=50,
        description="Account-level totals disagree with the campaign rows by this percentage (every metric).",
    )
    token_expires_in_days: float | None = Field(
        default=None,
        ge=-30,
        le=3650,
        description="The token expires this many days from now (Meta's debug_token, Google's refresh token); "
        "unset: it never expires.",
    )
    missing_scopes: list[str] = Field(
        default_factory=list, description="Scopes the token lacks (declined, left out of the granted list)."
    )
    budget_used_pct: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="The share of the call budget the platform reports used (Meta's usage headers, Shopify's "
        "call limit, GA4's propertyQuota); unset: a small share.",
    )
    budget_regain_minutes: int = Field(
        default=0, ge=0, le=60, description="Meta's estimated_time_to_regain_access reported with the usage."
    )


class Restatement(BaseModel):
    """A platform restating one campaign's past day, as the real ones do inside their attribution windows: from
    now on the day is served with these numbers (a metric left out keeps its own)."""

    model_config = ConfigDict(frozen=True)

    campaign_id: str
    date: date
    spend: Decimal | None = Field(default=None, ge=0, description="The day's new spend, in major units.")
    conversions: int | None = Field(default=None, ge=0, description="The day's new conversion count.")
    conversion_value: Decimal | None = Field(default=None, ge=0, description="The day's new conversion value.")

    def key(self) -> tuple[str, date]:
        return (self.campaign_id, self.date)

    def applied(self, metrics: DayMetrics) -> DayMetrics:
        """The day's metrics with this restatement's numbers in place of the original ones."""
        return dataclasses.replace(
            metrics,
            spend=metrics.spend if self.spend is None else self.spend,
            conversions=metrics.conversions if self.conversions is None else self.conversions,
            conversion_value=metrics.conversion_value if self.conversion_value is None else self.conversion_value,
        )


@dataclass
class EmulatorState:
    """Everything the emulator remembers between requests."""

    faults: dict[tuple[str, str], FaultPlan] = field(default_factory=dict)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    # When each request of an account arrived (seconds since the epoch), so a test can see how long a client waited.
    arrivals: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    metric_calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    restatements: dict[tuple[str, str], dict[tuple[str, date], Restatement]] = field(default_factory=dict)
    today: date | None = None

    def plan(self, platform: str, account_id: str) -> FaultPlan:
        """The fault plan of an account (a fresh, harmless one when none was set)."""
        return self.faults.setdefault((platform, account_id), FaultPlan())

    def current_date(self) -> date:
        """The emulator's today (settable by tests that need a fixed clock)."""
        return self.today or date.today()

    async def gate(self, platform: str, account_id: str, token: str | None, errors: PlatformErrors) -> Response | None:
        """The error response this request gets before any data, or None to go on."""
        self.requests[(platform, account_id)] += 1
        self.arrivals.setdefault((platform, account_id), []).append(time.time())
        plan = self.plan(platform, account_id)
        if plan.delay_seconds:
            await asyncio.sleep(plan.delay_seconds)
        if not token:
            return errors.missing_token()
        if token.startswith("expired"):
            return errors.expired_token()
        if token.startswith("revoked"):
            return errors.revoked_token()
        if plan.revoke_after is not None:
            if plan.revoke_after == 0:
                return errors.revoked_token()
            plan.revoke_after -= 1
        if plan.rate_limit:
            plan.rate_limit -= 1
            return errors.rate_limited(plan.retry_after_seconds)
        if plan.server_error:
            plan.server_error -= 1
            return errors.server_error()
        return None

    def answer(self, platform: str, account_id: str, payload: Any, status_code: int = 200) -> Response:
        """The JSON answer, cut in half when a truncation fault is pending."""
        response = JSONResponse(payload, status_code=status_code)
        plan = self.plan(platform, account_id)
        if plan.truncate and status_code == 200:
            plan.truncate -= 1
            body = bytes(response.body)
            return Response(body[: len(body) // 2], media_type="application/json")
        return response

    def page_size(self, platform: str, account_id: str, default: int) -> int:
        """Rows per page for this account: the platform's own size unless a test asked for smaller pages."""
        return self.plan(platform, account_id).page_size or default

    def delivers(self, platform: str, account_id: str) -> bool:
        """Whether the account's reports hold rows (False once a test restated everything to nothing)."""
        return not self.plan(platform, account_id).no_delivery

    def restate(self, platform: str, account_id: str, restatement: Restatement) -> None:
        """Serve a campaign's day with new numbers from now on (replacing an earlier restatement of that day)."""
        self.restatements.setdefault((platform, account_id), {})[restatement.key()] = restatement

    def restated(self, platform: str, account_id: str, campaign_id: str, day: date, metrics: DayMetrics) -> DayMetrics:
        """A campaign-day's metrics as the platform serves them now: restated, if a test restated that day."""
        restatement = self.restatements.get((platform, account_id), {}).get((campaign_id, day))
        return restatement.applied(metrics) if restatement else metrics

    def restated_days(self, platform: str, account_id: str) -> tuple[Restatement, ...]:
        """Every restatement of an account, in a stable order (a cache key for the emulators that cache rows)."""
        return tuple(sorted(self.restatements.get((platform, account_id), {}).values(), key=Restatement.key))

    def account_level(self, platform: str, account_id: str, value: Decimal) -> Decimal:
        """An account-level total as the platform reports it: the campaign rows' sum, unless a test asked for
        the two to disagree (``account_level_gap_pct``)."""
        gap = Decimal(str(self.plan(platform, account_id).account_level_gap_pct))
        return value * (1 + gap / 100) if gap else value

    def count_metrics_call(self, platform: str, account_id: str) -> int:
        """Count a metrics request; returns how many came before it (drives late attribution)."""
        before = self.metric_calls[(platform, account_id)]
        self.metric_calls[(platform, account_id)] += 1
        return before

    def late_conversions(self, platform: str, account_id: str, day: date, calls_before: int) -> int:
        """Extra conversions a recent day has gained by this call, when late attribution is on."""
        plan = self.plan(platform, account_id)
        recent = self.current_date() - day <= timedelta(days=LATE_ATTRIBUTION_DAYS)
        return calls_before if plan.late_attribution and recent else 0
