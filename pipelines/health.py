"""A connection's health: when its token expires, the scopes Tally needs that it lacks, and what the platform last
said of its call budget, with warnings in plain words.

The facts are gathered by each connection test and each load (``health_facts``) and stored with the connection
(no credential in them); the warnings are worded when the health is read (``health_report``), so "expires in 5
days" is true on the day it is shown. A token expiring within ``EXPIRY_WARNING_DAYS`` or a missing needed scope
puts the connection in the ``warning`` status (``needs_attention``); its loads go on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.base import ConnectionTestResult, PlatformSpec
from pipelines.budget import Budget

EXPIRY_WARNING_DAYS = 7
WARNING_STATUS = "warning"


def health_facts(spec: PlatformSpec, result: ConnectionTestResult, budget: Budget, checked_at: datetime) -> dict:
    """What a passed connection test (and the load or test it was part of) found, as the connection stores it."""
    granted = set(result.scopes)
    missing = [scope for scope in spec.needed_scopes if scope not in granted] if spec.needed_scopes else []
    expires = result.token_expires_at
    return {
        "token_expires_at": expires.astimezone(UTC).isoformat() if expires else None,
        "missing_scopes": missing,
        "rate_limit": budget.stored_reading(),
        "checked_at": checked_at.astimezone(UTC).isoformat(),
    }


def needs_attention(facts: dict | None, now: datetime) -> bool:
    """Whether the connection should be in the ``warning`` status: a token expiring soon or a scope missing."""
    if not facts:
        return False
    return bool(facts.get("missing_scopes")) or _expires_soon(_instant(facts.get("token_expires_at")), now)


def health_report(spec: PlatformSpec, facts: dict | None, now: datetime) -> dict[str, Any]:
    """The health as the API shows it: the stored facts and their warnings, worded as of ``now``."""
    facts = facts or {}
    expires = _instant(facts.get("token_expires_at"))
    missing = list(facts.get("missing_scopes") or [])
    rate_limit = facts.get("rate_limit")
    warnings = []
    if _expires_soon(expires, now):
        warnings.append(_expiry_warning(expires, now))
    warnings += [f"scope {scope} is missing: {spec.needed_scopes.get(scope, 'loads may fail')}" for scope in missing]
    if rate_limit and rate_limit.get("nearly_spent"):
        warnings.append(_budget_warning(spec.display_name, rate_limit))
    return {
        "token_expires_at": expires,
        "missing_scopes": missing,
        "rate_limit": rate_limit,
        "warnings": warnings,
        "checked_at": _instant(facts.get("checked_at")),
    }


def _expires_soon(expires: datetime | None, now: datetime) -> bool:
    return expires is not None and expires - now <= timedelta(days=EXPIRY_WARNING_DAYS)


def _expiry_warning(expires: datetime, now: datetime) -> str:
    left = expires - now
    if left <= timedelta(0):
        return f"the token expired on {expires:%Y-%m-%d}: loads will fail until it is replaced"
    if left < timedelta(days=1):
        return "the token expires in less than a day"
    # To the nearest day: a token checked a moment ago with five days left still has five days.
    days = round(left / timedelta(days=1))
    return f"the token expires in {days} day{'s' if days > 1 else ''}"


def _budget_warning(display_name: str, rate_limit: dict[str, Any]) -> str:
    used = rate_limit.get("used_pct")
    share = f"{used:.0f}% of its call budget used" if used is not None else "its call budget nearly spent"
    return f"{display_name} reports {share} ({rate_limit.get('source')}): loads wait as it asks"


def _instant(raw: Any) -> datetime | None:
    if not raw:
        return None
    moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
