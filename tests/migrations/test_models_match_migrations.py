"""The table definitions (pipeline.tables, sinks.tables) and the migrations describe one schema.

Alembic's autogenerate comparison runs on a freshly migrated database of each dialect: a model
change without a migration (or the reverse) shows up here as a difference.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

import pipeline.tables  # noqa: F401  (registers the engine tables on the shared MetaData)
from pipeline.db import metadata
from pipeline.migrate import upgrade
from pipeline.registry import connectors, load_connectors
from tests.migrations.test_up_down_up import XID8_WARNING

load_connectors()  # every connector's entity tables join the shared MetaData


def is_postgres_txid(diff: Any) -> bool:
    """`event_outbox.txid` and its index exist only in the PostgreSQL migration, not the models."""
    text = repr(diff)
    return "event_outbox" in text and "txid" in text


def differences(engine: Engine) -> list[Any]:
    options = {"compare_type": True, "compare_server_default": True}
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn, opts=options), metadata)
    return [d for d in found if not is_postgres_txid(d)]


@pytest.mark.filterwarnings(XID8_WARNING)
def test_migrated_schema_matches_the_table_definitions(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    assert differences(empty_engine) == []


def test_comparison_detects_tables_missing_from_the_migrations(empty_sqlite: Engine) -> None:
    upgrade(empty_sqlite, "0001")

    missing = {d[1].name for d in differences(empty_sqlite) if d[0] == "add_table"}

    entity_tables = {s.table.name for c in connectors() for s in c.streams}
    assert (
        missing == entity_tables | {"integration_inbox", "integration_rate_limits"}
        and entity_tables
    )
