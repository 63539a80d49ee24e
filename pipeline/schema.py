"""Entity tables (DESIGN §5): the fixed columns every stream's table has, plus its typed columns.

`entity_table` declares one on the shared MetaData; connectors rarely call it themselves, because
a `RestStream` derives its table from its declaration (`columns`, each from a model field).
`seen_generation` marks the rows a multi-run walk has seen, so its sweep survives resumption.
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
    "seen_generation",
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
        sa.Column("seen_generation", sa.String(40), nullable=True),
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
