"""Migrations of the DESIGN §5 tables: upgrade from empty, down to base, up again; both dialects.

Each test gets an empty database of its own: a new SQLite file, or on PostgreSQL a database
`pipeline_migrations_test_<pid>` created next to the test database and dropped afterwards (one name
per test session, so sessions running side by side never drop each other's database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db import create_engine
from pipeline.errors import ConfigError
from pipeline.migrate import (
    current_revision, downgrade, ensure_schema, head_revision, table_names, upgrade,
)

PG_URL = os.environ.get("PIPELINE_TEST_POSTGRES_URL")
PG_DATABASE = f"pipeline_migrations_test_{os.getpid()}"
XID8_WARNING = "ignore:Did not recognize type 'xid8'"  # SQLAlchemy cannot reflect the txid type

ENTITY = {
    "id", "tenant_id", "provider", "external_id", "content_hash", "data", "created_at",
    "updated_at", "deleted_at", "delete_reason",
}
DESIGN_COLUMNS = {
    "integration_subscriptions": {
        "id", "connector", "stream", "tenant_id", "config", "enabled", "checkpoint", "created_at",
        "updated_at",
    },
    "integration_leases": {
        "subscription_id", "owner", "fencing_token", "leased_until", "heartbeat_at",
    },
    "integration_runs": {
        "id", "subscription_id", "tenant_id", "status", "started_at", "completed_at",
        "duration_ms", "records_found", "created", "updated", "deleted", "noop", "failed", "pages",
        "api_calls", "checkpoint_before", "checkpoint_after", "error",
    },
    "integration_run_items": {
        "id", "run_id", "tenant_id", "entity_type", "external_id", "local_id", "operation",
        "status", "changed_fields", "error", "created_at",
    },
    "event_outbox": {
        "id", "event_id", "aggregatetype", "aggregateid", "type", "payload", "tenant_id", "source",
        "run_id", "occurred_at",
    },
    "outbox_offsets": {"consumer", "updated_at"},
    "slack_messages": ENTITY,
    "slack_channels": ENTITY,
    "slack_users": ENTITY,
}


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def empty_postgres() -> Iterator[Engine]:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need PIPELINE_TEST_POSTGRES_URL "
                    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {PG_DATABASE}")
    url = sa.make_url(PG_URL).set(database=PG_DATABASE)
    engine = create_engine(url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_engine(request: pytest.FixtureRequest) -> Engine:
    """An empty database (no tables at all) of each dialect."""
    engine: Engine = request.getfixturevalue(f"empty_{request.param}")
    return engine


def columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


@pytest.mark.filterwarnings(XID8_WARNING)
def test_upgrade_from_empty_creates_every_design_table_and_column(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    assert set(DESIGN_COLUMNS) <= table_names(empty_engine)
    missing = {t: sorted(cols - columns(empty_engine, t)) for t, cols in DESIGN_COLUMNS.items()}
    assert missing == dict.fromkeys(DESIGN_COLUMNS, [])
    assert current_revision(empty_engine) == head_revision()


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
    after_downgrade = (table_names(empty_engine), current_revision(empty_engine))
    upgrade(empty_engine)

    assert after_downgrade == ({"alembic_version"}, None)
    assert current_revision(empty_engine) == head_revision()
    assert set(DESIGN_COLUMNS) <= table_names(empty_engine)


def test_downgrade_one_step_drops_only_the_slack_entity_tables(empty_engine: Engine) -> None:
    upgrade(empty_engine)

    downgrade(empty_engine, "0001")

    core = {t for t in DESIGN_COLUMNS if not t.startswith("slack_")}
    assert table_names(empty_engine) == core | {"alembic_version"}
    assert current_revision(empty_engine) == "0001"


def txid_type(engine: Engine) -> str | None:
    """The outbox txid column's type, from information_schema (reflection knows no xid8)."""
    query = sa.text("SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'event_outbox' AND column_name = 'txid'")
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

    assert current_revision(empty_sqlite) == head_revision()
    assert set(DESIGN_COLUMNS) <= table_names(empty_sqlite)


def test_ensure_schema_brings_an_old_sqlite_database_to_head(empty_sqlite: Engine) -> None:
    upgrade(empty_sqlite, "0001")

    ensure_schema(empty_sqlite)

    assert current_revision(empty_sqlite) == head_revision()


def test_ensure_schema_refuses_an_empty_postgres_in_one_line(empty_postgres: Engine) -> None:
    with pytest.raises(ConfigError, match="empty.*run `pipeline migrate` first") as raised:
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

    assert current_revision(empty_engine) == head_revision()
