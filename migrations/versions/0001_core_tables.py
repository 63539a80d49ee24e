"""Core tables of DESIGN §5: subscriptions, leases, runs, run items, the outbox and its offsets.

On PostgreSQL the outbox also gets `txid xid8 DEFAULT pg_current_xact_id()` and a `(txid, id)`
index, for gap-safe reading (engine.md §3.1).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("aggregatetype", sa.String(length=64), nullable=False),
        sa.Column("aggregateid", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=96), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_outbox_event_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_outbox_tenant_id_id"), ["tenant_id", "id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE event_outbox ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()"
        )
        op.execute("CREATE INDEX ix_event_outbox_txid_id ON event_outbox (txid, id)")

    op.create_table(
        "integration_subscriptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("checkpoint", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_subscriptions")),
        sa.UniqueConstraint(
            "tenant_id",
            "connector",
            "stream",
            "name",
            name=op.f("uq_integration_subscriptions_tenant_id_connector_stream_name"),
        ),
    )
    op.create_table(
        "outbox_offsets",
        sa.Column("consumer", sa.String(length=128), nullable=False),
        sa.Column("last_txid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("filters", JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_outbox_offsets")),
    )
    op.create_table(
        "integration_leases",
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("fencing_token", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["integration_subscriptions.id"],
            name=op.f("fk_integration_leases_subscription_id_integration_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_integration_leases")),
    )
    op.create_table(
        "integration_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("records_found", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deleted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("noop", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("api_calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rate_limited", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fencing_token", sa.BigInteger(), nullable=True),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("checkpoint_before", JSON, nullable=True),
        sa.Column("checkpoint_after", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'no_changes', 'partial', 'throttled', 'failed', 'lost_lease', 'skipped')",
            name=op.f("ck_integration_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["integration_subscriptions.id"],
            name=op.f("fk_integration_runs_subscription_id_integration_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_runs")),
    )
    with op.batch_alter_table("integration_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_integration_runs_status_started_at"),
            ["status", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_integration_runs_subscription_id_started_at"),
            ["subscription_id", "started_at"],
            unique=False,
        )

    op.create_table(
        "integration_run_items",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("local_id", sa.String(length=36), nullable=True),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("changed_fields", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["integration_runs.id"],
            name=op.f("fk_integration_run_items_run_id_integration_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_run_items")),
    )
    with op.batch_alter_table("integration_run_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_integration_run_items_entity_type_external_id"),
            ["entity_type", "external_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_integration_run_items_run_id_id"), ["run_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("integration_run_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integration_run_items_run_id_id"))
        batch_op.drop_index(batch_op.f("ix_integration_run_items_entity_type_external_id"))

    op.drop_table("integration_run_items")
    with op.batch_alter_table("integration_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integration_runs_subscription_id_started_at"))
        batch_op.drop_index(batch_op.f("ix_integration_runs_status_started_at"))

    op.drop_table("integration_runs")
    op.drop_table("integration_leases")
    op.drop_table("outbox_offsets")
    op.drop_table("integration_subscriptions")
    with op.batch_alter_table("event_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_outbox_tenant_id_id"))

    op.drop_table("event_outbox")
