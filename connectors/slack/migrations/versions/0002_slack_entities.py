"""Slack entity tables: slack_messages, slack_channels, slack_users (DESIGN §5 "Entity tables").

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = ("slack",)
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "slack_channels",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("is_private", sa.Boolean(), nullable=True),
        sa.Column("is_archived", sa.Boolean(), nullable=True),
        sa.Column("is_member", sa.Boolean(), nullable=True),
        sa.Column("num_members", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_channels")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "external_id",
            name=op.f("uq_slack_channels_tenant_id_provider_external_id"),
        ),
    )
    op.create_table(
        "slack_messages",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("is_reply", sa.Boolean(), nullable=False),
        sa.Column("user", sa.String(length=32), nullable=True),
        sa.Column("subtype", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("edited_ts", sa.String(length=32), nullable=True),
        sa.Column("reply_count", sa.Integer(), nullable=True),
        sa.Column("latest_reply", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_messages")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "external_id",
            name=op.f("uq_slack_messages_tenant_id_provider_external_id"),
        ),
    )
    with op.batch_alter_table("slack_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slack_messages_tenant_id_channel_thread_ts"),
            ["tenant_id", "channel", "thread_ts"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_slack_messages_tenant_id_channel_ts"),
            ["tenant_id", "channel", "ts"],
            unique=False,
        )

    op.create_table(
        "slack_users",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("real_name", sa.String(length=255), nullable=True),
        sa.Column("is_bot", sa.Boolean(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_users")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "external_id",
            name=op.f("uq_slack_users_tenant_id_provider_external_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("slack_users")
    with op.batch_alter_table("slack_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_messages_tenant_id_channel_ts"))
        batch_op.drop_index(batch_op.f("ix_slack_messages_tenant_id_channel_thread_ts"))

    op.drop_table("slack_messages")
    op.drop_table("slack_channels")
