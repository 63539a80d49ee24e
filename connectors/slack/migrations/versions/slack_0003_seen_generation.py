"""Slack entity tables get `seen_generation` (deletion detection across resumed walks).

Revision ID: slack_0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "slack_0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("slack_messages", "slack_channels", "slack_users")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("seen_generation", sa.String(40), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("seen_generation")
