"""Migrations of the DESIGN §5 tables: upgrade from empty, down to base, up again; both dialects.

Each test gets an empty database of its own (the `empty_engine` fixture, in this folder's
conftest).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.errors import ConfigError
from pipeline.migrate import (
    current_revisions,
    downgrade,
    ensure_schema,
    head_revisions,
    table_names,
    upgrade,
)

XID8_WARNING = "ignore:Did not recognize type 'xid8'"  # SQLAlchemy cannot reflect the txid type

ENTITY = {
    "id",
    "tenant_id",
    "provider",
    "external_id",
    "content_hash",
    "data",
    "created_at",
    "updated_at",
    "deleted_at",
    "delete_reason",
}
DESIGN_COLUMNS = {
    "integration_subscriptions": {
        "id",
        "connector",
        "stream",
        "tenant_id",
        "config",
        "enabled",
        "checkpoint",
        "created_at",
        "updated_at",
    },
    "integration_leases": {
        "subscription_id",
        "owner",
        "fencing_token",
        "leased_until",
        "heartbeat_at",
    },
    "integration_runs": {
        "id",
        "subscription_id",
        "tenant_id",
        "status",
        "started_at",
        "completed_at",
        "duration_ms",
        "records_found",
        "created",
        "updated",
        "deleted",
        "noop",
        "failed",
        "pages",
        "api_calls",
        "checkpoint_before",
        "checkpoint_after",
        "error",
    },
    "integration_run_items": {
        "id",
        "run_id",
        "tenant_id",
        "entity_type",
        "external_id",
        "local_id",
        "operation",
        "status",
        "changed_fields",
        "error",
        "created_at",
    },
    "event_outbox": {
        "id",
        "event_id",
        "aggregatetype",
        "aggregateid",
        "type",
        "payload",
        "tenant_id",
        "source",
        "run_id",
        "occurred_at",
    },
    "outbox_offsets": {"consumer", "updated_at"},
    "slack_messages": ENTITY,
    "slack_channels": ENTITY,
    "slack_users": ENTITY,
}


def columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


@pytest.mark.filterwarnings(XID8_WARNING)
def test_upgrade_from_empty_creates_every_design_table_and_column(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    assert set(DESIGN_COLUMNS) <= table_names(empty_engine)
    missing = {t: sorted(cols - columns(empty_engine, t)) for t, cols in DESIGN_COLUMNS.items()}
    assert missing == {table: [] for table in DESIGN_COLUMNS}
    assert current_revisions(empty_engine) == head_revisions()


def test_entity_tables_are_unique_on_tenant_provider_external_id(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    inspector = sa.inspect(empty_engine)
    for table in ("slack_messages", "slack_channels", "slack_users"):
        unique = [c["column_names"] for c in inspector.get_unique_constraints(table)]
        assert ["tenant_id", "provider", "external_id"] in unique, table


def test_downgrade_to_base_leaves_only_alembic_version_and_upgrade_works_again(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine)

    downgrade(empty_engine)
    after_downgrade = (table_names(empty_engine), current_revisions(empty_engine))
    upgrade(empty_engine)

    assert after_downgrade == ({"alembic_version"}, set())
    assert current_revisions(empty_engine) == head_revisions()
    assert set(DESIGN_COLUMNS) <= table_names(empty_engine)


def test_downgrade_one_step_drops_only_the_slack_entity_tables(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    downgrade(empty_engine, "0001")

    core = {t for t in DESIGN_COLUMNS if not t.startswith("slack_")}
    assert table_names(empty_engine) == core | {"alembic_version"}
    assert current_revisions(empty_engine) == {"0001"}


def txid_type(engine: Engine) -> str | None:
    """The outbox txid column's type, from information_schema (reflection knows no xid8)."""
    query = sa.text(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'event_outbox' AND column_name = 'txid'"
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def test_outbox_txid_is_xid8_on_postgres(empty_postgres: Engine) -> None:
    upgrade(empty_postgres)

    assert txid_type(empty_postgres) == "xid8"


def test_outbox_has_no_txid_on_sqlite(empty_sqlite: Engine) -> None:
    upgrade(empty_sqlite)

    assert "txid" not in columns(empty_sqlite, "event_outbox")


def test_ensure_schema_migrates_an_empty_sqlite_database(empty_sqlite: Engine) -> None:
    ensure_schema(empty_sqlite)

    assert current_revisions(empty_sqlite) == head_revisions()
    assert set(DESIGN_COLUMNS) <= table_names(empty_sqlite)


def test_ensure_schema_brings_an_old_sqlite_database_to_head(empty_sqlite: Engine) -> None:
    upgrade(empty_sqlite, "0001")

    ensure_schema(empty_sqlite)

    assert current_revisions(empty_sqlite) == head_revisions()


def test_ensure_schema_refuses_an_empty_postgres_in_one_line(empty_postgres: Engine) -> None:
    with pytest.raises(ConfigError, match=r"empty.*run `pipeline migrate` first") as raised:
        ensure_schema(empty_postgres)

    assert "\n" not in str(raised.value)
    assert table_names(empty_postgres) == set()


def test_ensure_schema_refuses_an_old_postgres_and_names_its_revision(
    empty_postgres: Engine,
) -> None:
    upgrade(empty_postgres, "0001")

    with pytest.raises(ConfigError, match="at revision 0001"):
        ensure_schema(empty_postgres)


def test_ensure_schema_accepts_a_migrated_database(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    ensure_schema(empty_engine)

    assert current_revisions(empty_engine) == head_revisions()
