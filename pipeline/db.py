"""Database access: the engine factory, SQLite pragmas and transaction modes, the shared MetaData.

SQLite gets WAL, `busy_timeout`, foreign keys and `BEGIN IMMEDIATE` for page transactions
(engine.md §2.4); PostgreSQL goes through psycopg 3. Every table of DESIGN §5 hangs off `metadata`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from pipeline.errors import ConfigError

DEFAULT_URL = "sqlite:///pipeline.db"

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def database_url(url: str | None = None) -> str:
    """The URL to use: an explicit one, else `PIPELINE_DATABASE_URL`, else embedded SQLite."""
    return url or os.environ.get("PIPELINE_DATABASE_URL") or DEFAULT_URL


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    name = str(parsed.database or "")
    if parsed.query.get("uri") == "true":  # sqlite:///file:x.db?mode=ro&uri=true
        name = name.removeprefix("file:")
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:"):
        return None
    return Path(name)


def shown_path(path: Path) -> str:
    """`./pipeline.db` for a relative path, so the reader sees it is relative to where they are."""
    return str(path) if path.is_absolute() else f"./{path}"


def require_database(url: str | None = None) -> None:
    """Refuse to read an embedded database that is not there (SQLite would create an empty one,
    and a command run in the wrong directory would then show nothing, like lost data)."""
    path = sqlite_path(database_url(url))
    if path is not None and not path.exists():
        raise ConfigError(
            f"no database at {shown_path(path)} — run a sync first or set PIPELINE_DATABASE_URL"
        )


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An Engine for either dialect with our JSON codec and, on SQLite, our pragmas."""
    url = database_url(url)
    engine = sa.create_engine(
        url, json_serializer=_json_dumps, json_deserializer=orjson.loads, **kwargs
    )
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: `BEGIN IMMEDIATE` on SQLite, so read-then-write cannot deadlock."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def insert_ignore(conn: Connection, table: sa.Table, values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on either dialect (two first runs may race to create a row)."""
    from sqlalchemy.dialects import sqlite

    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(dialect_insert(table).values(**values).on_conflict_do_nothing())


def is_postgres(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every timestamp we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
