"""Entity tables, one per stream (DESIGN §5), declared once on the shared MetaData.

`entity_table` adds the fixed columns every entity table has; a stream adds typed columns that
people query. The sink fills a typed column from the canonical record field of the same name.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.db import JSONType, Timestamp, metadata

ENTITY_COLUMNS = (
    "id",
    "tenant_id",
    "provider",
    "external_id",
    "content_hash",
    "version",
    "data",
    "created_at",
    "updated_at",
    "deleted_at",
    "delete_reason",
)


def entity_table(
    name: str,
    *typed: sa.Column[object],
    indexes: tuple[tuple[str, ...], ...] = (),
    on: sa.MetaData = metadata,
) -> sa.Table:
    """Declare an entity table: fixed DESIGN §5 columns, then the stream's typed columns."""
    table = sa.Table(
        name,
        on,
        sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("data", JSONType, nullable=False),
        *typed,
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("deleted_at", Timestamp, nullable=True),
        sa.Column("delete_reason", sa.String(64), nullable=True),
        sa.UniqueConstraint("tenant_id", "provider", "external_id"),
    )
    for columns in indexes:
        sa.Index(None, *(table.c[c] for c in columns))
    return table


def typed_columns(table: sa.Table) -> tuple[str, ...]:
    """The stream's own columns: everything that is not a fixed entity column."""
    return tuple(c.name for c in table.columns if c.name not in ENTITY_COLUMNS)


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
