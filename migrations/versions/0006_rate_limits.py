"""Adaptive pacing (issue 15): `integration_rate_limits`, the learned rate per tenant, vendor, method.

Revision ID: 0006_rate_limits
Revises: 0003_webhook_inbox
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_rate_limits"
down_revision = "0003_webhook_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integration_rate_limits",
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=255), nullable=False),
        sa.Column("regime", sa.String(length=64), nullable=False),
        sa.Column("rate_per_s", sa.Float(), nullable=True),
        sa.Column("ceiling_per_s", sa.Float(), nullable=True),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("limited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "connector", "method", name=op.f("pk_integration_rate_limits")
        ),
    )


def downgrade() -> None:
    op.drop_table("integration_rate_limits")
