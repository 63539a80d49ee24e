"""Bytes written per created record: `python -m bench.write_bytes [--backend B] [--records N]`.

Runs the engine path's first sync into a fresh database, then reports, per created record, the mean
JSON text of the three documents a create writes (entity `data`, run item `changed_fields`, event
`payload`) and the bytes each table and index holds on disk (SQLite `dbstat`; PostgreSQL
`pg_relation_size` of each table and index, after a `VACUUM`-free `CHECKPOINT`).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import sqlalchemy as sa

from bench import databases, engine_path

_DOCUMENTS = (
    ("entity data", "slack_messages", "data"),
    ("run item changed_fields", "integration_run_items", "changed_fields"),
    ("event payload", "event_outbox", "payload"),
)
_TABLES = ("slack_messages", "integration_run_items", "event_outbox")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.write_bytes")
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--records", type=int, default=20_000)
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-bytes-"))
    try:
        url = (
            databases.pg_url()
            if args.backend == "postgres"
            else databases.sqlite_url(workdir, "bytes")
        )
        databases.reset(url)
        engine_path.prepare(url)
        created = engine_path.run(url, "initial", args.records)["counts"]["created"]
        databases.sqlite_checkpoint(url)
        for line in report(url, created):
            print(line)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(url: str, created: int) -> list[str]:
    """One line per document and per table or index: bytes per created record."""
    engine = sa.create_engine(url)
    lines = [f"{created} records created; bytes per created record:"]
    try:
        with engine.connect() as conn:
            for label, table, column in _DOCUMENTS:
                total = conn.execute(
                    sa.text(f"SELECT sum(length(CAST({column} AS TEXT))) FROM {table}")
                ).scalar_one()
                lines.append(f"  {label:<28} {int(total or 0) / created:8.0f}  (JSON text)")
            sizes = _sizes(conn)
        for name, size in sizes:
            lines.append(f"  {name:<44} {size / created:8.0f}  (on disk)")
        lines.append(f"  {'total of these tables':<44} {sum(s for _, s in sizes) / created:8.0f}")
    finally:
        engine.dispose()
    return lines


def _sizes(conn: sa.Connection) -> list[tuple[str, int]]:
    """(table or index name, bytes on disk) for the three tables a create writes."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            sa.text(
                "SELECT s.name, sum(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name "
                "WHERE m.tbl_name IN ('slack_messages', 'integration_run_items', 'event_outbox') "
                "GROUP BY s.name ORDER BY s.name"
            )
        )
        return [(r[0], int(r[1])) for r in rows]
    conn.exec_driver_sql("CHECKPOINT")
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, pg_relation_size(c.oid) + coalesce(pg_total_relation_size("
            "NULLIF(c.reltoastrelid, 0)), 0) FROM pg_class c JOIN pg_class t ON t.oid = "
            "coalesce((SELECT indrelid FROM pg_index WHERE indexrelid = c.oid), c.oid) "
            "WHERE t.relname IN ('slack_messages', 'integration_run_items', 'event_outbox') "
            "AND c.relkind IN ('r', 'i') ORDER BY c.relname"
        )
    )
    return [(r[0], int(r[1])) for r in rows]


if __name__ == "__main__":
    raise SystemExit(main())
