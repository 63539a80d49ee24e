"""Benchmark databases: a fresh SQLite file or the PostgreSQL `bench` database, and their sizes.

PostgreSQL benchmarks never touch the test database: they use a `bench` database on the same server
(created on first use through an autocommit connection) and reset its schemas before each sequence.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
BENCH_PG_ENV = "BENCH_POSTGRES_URL"


def pg_url() -> str:
    return os.environ.get(BENCH_PG_ENV, DEFAULT_PG_URL)


def sqlite_url(workdir: Path, name: str) -> str:
    return f"sqlite:///{workdir / (name + '.db')}"


def ensure_pg_database(url: str) -> None:
    """Create the benchmark database if it does not exist (CREATE DATABASE needs autocommit)."""
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            ).first()
            if not found:
                conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    finally:
        admin.dispose()


def reset(url: str) -> None:
    """An empty database: delete the SQLite file (and WAL), or drop every user schema on PostgreSQL."""
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    ensure_pg_database(url)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            schemas = (
                conn.execute(
                    sa.text(
                        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                        "AND nspname <> 'information_schema'"
                    )
                )
                .scalars()
                .all()
            )
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def size_mb(url: str) -> float:
    """Database size on disk: the SQLite file plus its WAL, or `pg_database_size`."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)) / 1e6
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return (
                float(
                    conn.execute(
                        sa.text("SELECT pg_database_size(current_database())")
                    ).scalar_one()
                )
                / 1e6
            )
    finally:
        engine.dispose()


def sqlite_checkpoint(url: str) -> None:
    """Fold the WAL into the main file, so the next run (a new process) starts from the same shape."""
    if not url.startswith("sqlite"):
        return
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
