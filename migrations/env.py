"""Alembic environment: runs on the connection `pipeline.migrate` hands over (both dialects)."""

from __future__ import annotations

from alembic import context

import pipeline.tables  # noqa: F401  (registers the engine tables on the shared MetaData)
from pipeline.db import metadata
from pipeline.registry import load_connectors

load_connectors()  # every connector's entity tables join the shared MetaData

target_metadata = metadata


def run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
