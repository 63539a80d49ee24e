"""Run status `stopped` (DESIGN §5): a run ended by SIGTERM or Ctrl-C after its last committed page.

Only the CHECK constraint on `integration_runs.status` changes. On PostgreSQL it is dropped and
created again. On SQLite it is rewritten in place in the stored schema, the procedure SQLite
documents for changing a CHECK constraint ("ALTER TABLE", section 7): batch mode would copy the
table and drop the old one, and the drop cascades to every run item.
Downgrade turns `stopped` runs into `failed` ones first.

Revision ID: 0003_run_status_stopped
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0003_run_status_stopped"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD = (
    "'running', 'success', 'no_changes', 'partial', 'throttled', 'failed', 'lost_lease', 'skipped'"
)
NEW = f"{OLD}, 'stopped'"
NAME = "ck_integration_runs_status"


def upgrade() -> None:
    _replace_check(OLD, NEW)


def downgrade() -> None:
    op.execute("UPDATE integration_runs SET status = 'failed' WHERE status = 'stopped'")
    _replace_check(NEW, OLD)


def _replace_check(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace_check(old, new)
        return
    op.execute(f"ALTER TABLE integration_runs DROP CONSTRAINT {NAME}")
    op.execute(f"ALTER TABLE integration_runs ADD CONSTRAINT {NAME} CHECK (status IN ({new}))")


def _sqlite_replace_check(old: str, new: str) -> None:
    conn = op.get_bind()
    where = "WHERE type = 'table' AND name = 'integration_runs'"
    sql = conn.exec_driver_sql(f"SELECT sql FROM sqlite_master {where}").scalar_one()
    if f"({old})" not in sql:
        raise RuntimeError(f"integration_runs has an unexpected status constraint: {sql}")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.exec_driver_sql(
        f"UPDATE sqlite_master SET sql = ? {where}", (sql.replace(f"({old})", f"({new})"),)
    )
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")
