"""Database access: the engine factory, SQLite pragmas and transaction modes, the shared MetaData.

SQLite gets WAL, `busy_timeout`, foreign keys and `BEGIN IMMEDIATE` for page transactions
(engine.md §2.4); PostgreSQL goes through psycopg 3 with `pool_pre_ping`, so a connection the server
dropped (a restart) is replaced at checkout instead of failing the run. Bound parameters are never
put in error messages, and `error_line` gives a run row one line without SQL. Every table of
DESIGN §5 hangs off `metadata`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from pipeline.errors import ConfigError

DEFAULT_URL = "sqlite:///pipeline.db"
RECONNECT_WAITS_S = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
"""Waits before each try of a ledger write after a lost connection (~30 s: a server restart)."""

log = logging.getLogger("pipeline.db")
T = TypeVar("T")

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


SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON")
"""Set on every SQLite connection (the raw-SQL baseline uses them too). A larger page cache
(`cache_size`) or `mmap_size` did not lower the CPU per record at 10⁵ records and raised peak RSS
past its 120 MB budget (mmap'd file pages count in RSS): bench/README.md."""


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An Engine for either dialect with our JSON codec and, on SQLite, our pragmas."""
    url = database_url(url)
    if sa.engine.make_url(url).get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        hide_parameters=True,
        **kwargs,
    )
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
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


def error_line(exc: BaseException) -> str:
    """One line for a run row or a log: a database error says what the server said, no SQL."""
    orig = getattr(exc, "orig", None)
    if isinstance(exc, sa.exc.DBAPIError) and orig is not None:
        first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        return f"database error ({type(orig).__name__}): {first}"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def with_reconnect(action: Callable[[], T], waits_s: Sequence[float] = RECONNECT_WAITS_S) -> T:
    """Run a short idempotent write, again after an operational error (the server restarting).

    A run must end with a status even when the connection dropped under it (issue 10, finding 8).
    """
    for wait_s in waits_s[:-1]:
        time.sleep(wait_s)
        try:
            return action()
        except sa.exc.OperationalError as exc:
            log.warning("database unavailable (%s); trying again", error_line(exc))
    time.sleep(waits_s[-1])
    return action()
