"""The app database's tables (SQLAlchemy Core). Alembic migrations in ``warehouse/migrations`` create them."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Connected statuses: ``warning`` is a working connection whose token expires within 7 days or lacks a needed scope
# (its loads go on); ``error`` one whose last test or load failed. ``disconnected`` is the only other.
ACTIVE_STATUSES = ("active", "warning", "error")

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(64), nullable=False, index=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("connected_by_user_id", sa.String(255), nullable=True),
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_sync_error", sa.Text, nullable=True),
    # The last local day a successful load covered (never moved back by a load of older days); null until one.
    sa.Column("loaded_through", sa.Date, nullable=True),
    # How the last reconciled load compared with the platform's account-level totals (migration 0010): null
    # until one was reconciled; the largest gap per metric as {metric_key, loaded, platform, gap, gap_pct}.
    sa.Column("reconciled", sa.Boolean, nullable=True),
    sa.Column("reconciliation_gap", sa.JSON, nullable=True),
    sa.Column("store_url", sa.String(255), nullable=True),
    sa.Column("account_id", sa.String(255), nullable=True),
    sa.Column("display_name", sa.String(255), nullable=True),
    sa.Column("currency", sa.String(8), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
    # What the latest test or load found of the connection's health (migration 0011): {token_expires_at,
    # missing_scopes, rate_limit, checked_at}; null until checked. Never a credential.
    sa.Column("health", sa.JSON, nullable=True),
    # Fernet token of the credentials object; NULL once the connection is disconnected.
    sa.Column("credentials_encrypted", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # One connected (active or failing) connection per company and platform; disconnected ones stay as history.
    sa.Index(
        "uq_connections_company_platform_connected",
        "company_id",
        "platform",
        unique=True,
        sqlite_where=sa.text("status != 'disconnected'"),
        postgresql_where=sa.text("status != 'disconnected'"),
    ),
)

ACTIVE_BACKFILL = "kind = 'backfill' AND status IN ('pending', 'running')"
ACTIVE_SYNC = "kind = 'sync' AND status IN ('pending', 'running')"

run_requests = sa.Table(
    "run_requests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("days", sa.Integer, nullable=True),
    sa.Column("platforms", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("requested_by", sa.String(255), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    # The Dagster run the request became, once the sensor has seen Dagster accept it.
    sa.Column("dagster_run_id", sa.String(64), nullable=True),
    # When the sensor first asked Dagster for the run: a request still without a run long after is failed.
    sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
    # The X-Request-ID of the API request that asked for it (null for the schedule's): the run carries it as a tag.
    sa.Column("trace_id", sa.String(128), nullable=True),
    # One backfill at a time per company: the database, not a check-then-insert, keeps it so.
    sa.Index(
        "uq_run_requests_one_active_backfill",
        "company_id",
        unique=True,
        sqlite_where=sa.text(ACTIVE_BACKFILL),
        postgresql_where=sa.text(ACTIVE_BACKFILL),
    ),
    # One sync at a time per company: a second one is merged into it.
    sa.Index(
        "uq_run_requests_one_active_sync",
        "company_id",
        unique=True,
        sqlite_where=sa.text(ACTIVE_SYNC),
        postgresql_where=sa.text(ACTIVE_SYNC),
    ),
)

# One row per platform step and one for the marts step of a request; each is written by whoever does that step.
run_request_steps = sa.Table(
    "run_request_steps",
    metadata,
    sa.Column("request_id", sa.String(36), sa.ForeignKey("run_requests.id"), primary_key=True),
    sa.Column("step", sa.String(32), primary_key=True),
    # waiting, running, succeeded, failed or skipped
    sa.Column("status", sa.String(16), nullable=False),
    # A platform step's local days; null for the marts step.
    sa.Column("start_date", sa.Date, nullable=True),
    sa.Column("end_date", sa.Date, nullable=True),
    sa.Column("partitions_done", sa.Integer, nullable=False),
    sa.Column("partitions_total", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# A company's targets, one per metric and period type; PUT /goals replaces the whole set.
goals = sa.Table(
    "goals",
    metadata,
    sa.Column("company_id", sa.String(64), primary_key=True),
    sa.Column("metric_key", sa.String(32), primary_key=True),
    sa.Column("period_type", sa.String(16), primary_key=True),
    sa.Column("target", sa.Float, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# A short note on what moved in a company's results, written by the weekly insight asset; GET /results shows the
# latest. `figures` holds the rollup rows it was written from, `model` the model that wrote it (null: template).
insights = sa.Table(
    "insights",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(64), nullable=False),
    sa.Column("period_type", sa.String(16), nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("model", sa.String(255), nullable=True),
    sa.Column("figures", sa.JSON, nullable=False),
    sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_insights_company_generated", "company_id", "generated_at"),
)

# Quarterly business reviews prepared by POST /results/prepare-qbr, with the figures their summary was written from.
qbrs = sa.Table(
    "qbrs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(64), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("model", sa.String(255), nullable=True),
    sa.Column("figures", sa.JSON, nullable=False),
    sa.Column("insight_id", sa.String(36), nullable=True),
    sa.Column("created_by", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # The reads behind the summary and the numbers of it none returned (migration 0011; null on older reviews).
    sa.Column("sources", sa.JSON, nullable=True),
    sa.Column("unsourced_numbers", sa.JSON, nullable=True),
    sa.Index("ix_qbrs_company_created", "company_id", "created_at"),
)

# What Tally keeps about a client beyond its connections: for now, when its last QBR was prepared.
client_profiles = sa.Table(
    "client_profiles",
    metadata,
    sa.Column("company_id", sa.String(64), primary_key=True),
    sa.Column("last_qbr_date", sa.Date, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# How many writes each company's rows of connections, goals, insights and run_requests have had: triggers
# (migration 0009) bump it on every insert, update and delete, so a cached results answer keyed by it is never
# served after a change, whichever process made it. A company without a row has had none since the migration.
company_changes = sa.Table(
    "company_changes",
    metadata,
    sa.Column("company_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)
