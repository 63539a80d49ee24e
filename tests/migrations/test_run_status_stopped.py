"""Migration 0003 adds the run status `stopped` and keeps every run and run item (both dialects)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.migrate import downgrade, upgrade

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def seed_run(engine: Engine) -> None:
    """One subscription, one finished run with one item, as revision 0001 stores them."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO integration_subscriptions (id, connector, stream, tenant_id, name, "
                "config, enabled, created_at, updated_at) VALUES ('s', 'c', 's', 't', 'n', '{}', "
                "true, :now, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO integration_runs (id, subscription_id, tenant_id, status, started_at) "
                "VALUES ('r', 's', 't', 'failed', :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO integration_run_items (run_id, tenant_id, entity_type, external_id, "
                "operation, status, changed_fields, created_at) "
                "VALUES ('r', 't', 'e', 'x', 'created', 'success', '{}', :now)"
            ),
            {"now": NOW},
        )


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def set_status(engine: Engine, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE integration_runs SET status = :s"), {"s": status})


def test_upgrade_allows_stopped_and_keeps_runs_and_items(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0001")
    seed_run(empty_engine)

    upgrade(empty_engine)
    set_status(empty_engine, "stopped")

    assert (
        count(empty_engine, "integration_runs"),
        count(empty_engine, "integration_run_items"),
    ) == (1, 1)
    with pytest.raises(sa.exc.IntegrityError):
        set_status(empty_engine, "halted")


def test_downgrade_turns_stopped_runs_into_failed_ones(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0001")
    seed_run(empty_engine)
    upgrade(empty_engine)
    set_status(empty_engine, "stopped")

    downgrade(empty_engine, "0001")

    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM integration_runs")).scalar_one() == "failed"
    assert count(empty_engine, "integration_run_items") == 1
    with pytest.raises(sa.exc.IntegrityError):
        set_status(empty_engine, "stopped")
