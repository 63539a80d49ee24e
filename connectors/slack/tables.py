"""Slack's entity tables (DESIGN §5): slack_messages, slack_channels, slack_users."""

from __future__ import annotations

import sqlalchemy as sa

from pipeline import entity_table

slack_messages = entity_table(
    "slack_messages",
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("ts", sa.String(32), nullable=False),
    sa.Column("thread_ts", sa.String(32), nullable=True),
    sa.Column("is_reply", sa.Boolean, nullable=False),
    sa.Column("user", sa.String(32), nullable=True),
    sa.Column("subtype", sa.String(64), nullable=True),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("edited_ts", sa.String(32), nullable=True),
    sa.Column("reply_count", sa.Integer, nullable=True),
    sa.Column("latest_reply", sa.String(32), nullable=True),
    indexes=(("tenant_id", "channel", "ts"), ("tenant_id", "channel", "thread_ts")),
)

slack_channels = entity_table(
    "slack_channels",
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("is_private", sa.Boolean, nullable=True),
    sa.Column("is_archived", sa.Boolean, nullable=True),
    sa.Column("is_member", sa.Boolean, nullable=True),
    sa.Column("num_members", sa.Integer, nullable=True),
)

slack_users = entity_table(
    "slack_users",
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("real_name", sa.String(255), nullable=True),
    sa.Column("is_bot", sa.Boolean, nullable=True),
    sa.Column("deleted", sa.Boolean, nullable=True),
    sa.Column("team_id", sa.String(32), nullable=True),
)
