"""A connection's health, checked after each load: the platform's connection test run with the load's budget.

The test finds the token's expiry and scopes; the budget holds what the platform said of its call budget during
the load and the test. Both are stored with the connection (``warehouse.connections.record_health``), which puts
it in ``warning`` when its token expires within 7 days or lacks a needed scope; the load goes on either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from orchestration.resources import TallyResource
from pipelines.base import Credentials, PlatformSpec
from pipelines.budget import Budget
from pipelines.health import health_facts, health_report, needs_attention
from pipelines.registry import check_connection
from warehouse import connections as store


def check_health(
    context: dg.OpExecutionContext,
    tally: TallyResource,
    spec: PlatformSpec,
    credentials: Credentials,
    connection: dict[str, Any],
    budget: Budget,
) -> tuple[bool, list[str]]:
    """Run the platform's connection test after a load and store the connection's health (expiry, scopes, the
    budget the load and the test saw); whether it needs attention, and its warnings. A test that fails after a
    load that passed leaves the stored health as it was: the load stands, and the next one checks again."""
    result = check_connection(spec, credentials, tally.settings, budget)
    now = datetime.now(UTC)
    if not result.success:
        context.log.warning(f"{spec.display_name}: the health check after the load failed: {result.error}")
        facts = connection.get("health")
        return needs_attention(facts, now), health_report(spec, facts, now)["warnings"]
    facts = health_facts(spec, result, budget, now)
    check = store.HealthCheck(facts, result.scopes, result.token_expires_at, needs_attention(facts, now))
    with tally.app_engine().begin() as db:
        store.record_health(db, connection["id"], check)
    warnings = health_report(spec, facts, now)["warnings"]
    for warning in warnings:
        context.log.warning(f"{spec.display_name} connection of {connection['company_id']}: {warning}")
    return check.warning, warnings
