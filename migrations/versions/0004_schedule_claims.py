"""Subscriptions in the database (DESIGN §9): due time, trigger, retry state; `attempt` on runs.

`next_run_at` is when a subscription is due (NULL: never scheduled, e.g. created by a one-off
`pipeline run`); `(enabled, next_run_at)` serves the claim query of `pipeline schedule`.

Revision ID: 0003_schedule_claims
Revises: 0003_run_status_stopped
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_schedule_claims"
down_revision = "0003_run_status_stopped"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integration_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("interval_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("schedule", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempt", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_integration_subscriptions_enabled_next_run_at"),
            ["enabled", "next_run_at"],
            unique=False,
        )
    with op.batch_alter_table("integration_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35 has it): a batch copy would drop and re-create the tables,
    # and on SQLite dropping integration_subscriptions cascades to every run and run item.
    op.drop_column("integration_runs", "attempt")
    op.drop_index(
        op.f("ix_integration_subscriptions_enabled_next_run_at"),
        table_name="integration_subscriptions",
    )
    for column in (
        "last_error",
        "paused_reason",
        "attempt",
        "next_run_at",
        "schedule",
        "interval_s",
    ):
        op.drop_column("integration_subscriptions", column)
