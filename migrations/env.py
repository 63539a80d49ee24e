"""Alembic environment: runs on the connection `pipeline.migrate` hands over (both dialects)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context

import pipeline.tables  # noqa: F401  (registers the engine tables on the shared MetaData)
from pipeline.db import metadata
from pipeline.registry import load_connectors

load_connectors()  # every connector's entity tables join the shared MetaData

target_metadata = metadata


def only_named_tables(obj: object, name: str | None, type_: str, *_: object) -> bool:
    """While generating one connector's migration, compare only that connector's tables."""
    only = context.config.attributes.get("only_tables")
    if only is None or type_ != "table":
        return True
    return name in only


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render the JSON/JSONB variant of entity `data` columns as importable code."""
    if type_ == "type" and isinstance(obj, sa.JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch operations; PostgreSQL runs them as usual
        compare_type=True,
        include_object=only_named_tables,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
