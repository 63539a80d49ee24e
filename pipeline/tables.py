"""Engine tables of DESIGN §5: subscriptions, leases, runs, run items, the outbox and its offsets."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline.db import JSONType, Timestamp, metadata

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

subscriptions = sa.Table(
    "integration_subscriptions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("connector", sa.String(64), nullable=False),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False, server_default="default"),
    sa.Column("config", JSONType, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("checkpoint", JSONType, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    # scheduling (DESIGN §9): when it is due, its trigger, and its retry state
    sa.Column("interval_s", sa.Float, nullable=True),
    sa.Column("schedule", sa.String(128), nullable=True),
    sa.Column("next_run_at", Timestamp, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("paused_reason", sa.Text, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("tenant_id", "connector", "stream", "name"),
    sa.Index(None, "enabled", "next_run_at"),
)

leases = sa.Table(
    "integration_leases",
    metadata,
    sa.Column(
        "subscription_id",
        sa.String(64),
        sa.ForeignKey("integration_subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("fencing_token", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("run_id", sa.String(36), nullable=True),
    sa.Column("leased_until", Timestamp, nullable=True),
    sa.Column("heartbeat_at", Timestamp, nullable=True),
)

RUN_STATUSES = (
    "running",
    "success",
    "no_changes",
    "partial",
    "throttled",
    "failed",
    "lost_lease",
    "skipped",
    "stopped",
)

runs = sa.Table(
    "integration_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "subscription_id",
        sa.String(64),
        sa.ForeignKey("integration_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("completed_at", Timestamp, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("records_found", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deleted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("noop", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
    sa.Column("api_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rate_limited", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fencing_token", sa.BigInteger, nullable=True),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("checkpoint_before", JSONType, nullable=True),
    sa.Column("checkpoint_after", JSONType, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
    sa.Index(None, "subscription_id", "started_at"),
    sa.Index(None, "status", "started_at"),
)

run_items = sa.Table(
    "integration_run_items",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id",
        sa.String(36),
        sa.ForeignKey("integration_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("entity_type", sa.String(64), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("local_id", sa.String(36), nullable=True),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("changed_fields", JSONType, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "run_id", "id"),
    sa.Index(None, "entity_type", "external_id"),
)

event_outbox = sa.Table(
    "event_outbox",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid(as_uuid=False), nullable=False, unique=True),
    sa.Column("aggregatetype", sa.String(64), nullable=False),
    sa.Column("aggregateid", sa.String(64), nullable=False),
    sa.Column("type", sa.String(96), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("subscription_id", sa.String(64), nullable=True),
    sa.Column("run_id", sa.String(36), nullable=True),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Index(None, "tenant_id", "id"),
    sqlite_autoincrement=True,  # ids never reused after a purge: the SQLite reader's position is an id
)
# PostgreSQL only, created by migration 0001: `txid xid8 NOT NULL DEFAULT pg_current_xact_id()`.
# It is filled by the database, never by us, and read only by the PostgreSQL reader (engine.md §3.1).
outbox_txid: sa.ColumnClause[Any] = sa.literal_column("event_outbox.txid")

outbox_offsets = sa.Table(
    "outbox_offsets",
    metadata,
    sa.Column("consumer", sa.String(128), primary_key=True),
    sa.Column("last_txid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_id", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("filters", JSONType, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
)

INBOX_STATUSES = ("pending", "applied", "failed")

inbox = sa.Table(
    "integration_inbox",
    metadata,
    sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("connector", sa.String(64), nullable=False),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("delivery_id", sa.String(255), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("claimed_by", sa.String(255), nullable=True),
    sa.Column("claimed_until", Timestamp, nullable=True),
    sa.Column("applied_at", Timestamp, nullable=True),
    sa.Column("run_id", sa.String(36), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.UniqueConstraint("tenant_id", "connector", "delivery_id"),
    sa.CheckConstraint(f"status IN {INBOX_STATUSES!r}", name="status"),
    sa.Index(None, "status", "id"),
    sa.Index(None, "run_id"),
    sqlite_autoincrement=True,
)
"""Webhook deliveries (DESIGN §8): the raw body, committed before the vendor gets its 2xx."""

rate_limits = sa.Table(
    "integration_rate_limits",
    metadata,
    sa.Column("tenant_id", sa.String(128), primary_key=True),
    sa.Column("connector", sa.String(64), primary_key=True),
    sa.Column("method", sa.String(255), primary_key=True),
    sa.Column("regime", sa.String(64), nullable=False),
    sa.Column("rate_per_s", sa.Float, nullable=True),
    sa.Column("ceiling_per_s", sa.Float, nullable=True),
    sa.Column("blocked_until", Timestamp, nullable=True),
    sa.Column("limited_at", Timestamp, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
)
"""Adaptive pacing (issue 15): the rate each tenant's vendor method was learned to accept, and
the end of its last `Retry-After`, so the next run and other processes start from them."""

__all__ = [
    "INBOX_STATUSES",
    "RUN_STATUSES",
    "event_outbox",
    "inbox",
    "leases",
    "outbox_offsets",
    "outbox_txid",
    "rate_limits",
    "run_items",
    "runs",
    "subscriptions",
]
