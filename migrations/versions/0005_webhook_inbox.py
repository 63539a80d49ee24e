"""Webhook inbox (DESIGN §8): `integration_inbox`, and the `skipped` counter on runs.

Revision ID: 0003_webhook_inbox
Revises: 0003_schedule_claims
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_webhook_inbox"
down_revision = "0003_schedule_claims"
branch_labels = None
depends_on = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "integration_inbox",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'failed')", name=op.f("ck_integration_inbox_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_inbox")),
        sa.UniqueConstraint(
            "tenant_id",
            "connector",
            "delivery_id",
            name=op.f("uq_integration_inbox_tenant_id_connector_delivery_id"),
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("integration_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_integration_inbox_status_id"), ["status", "id"])
        batch_op.create_index(batch_op.f("ix_integration_inbox_run_id"), ["run_id"])
    with op.batch_alter_table("integration_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skipped", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.execute("ALTER TABLE integration_runs DROP COLUMN skipped")  # SQLite 3.35+ and PostgreSQL
    op.drop_index(op.f("ix_integration_inbox_run_id"), "integration_inbox")
    op.drop_index(op.f("ix_integration_inbox_status_id"), "integration_inbox")
    op.drop_table("integration_inbox")
