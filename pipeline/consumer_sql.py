"""The SQL under the outbox reader (engine.md §3): positions, the gap-safe horizon, offsets, lag
and purge.

A *position* is where a consumer stands in commit order. On PostgreSQL it is the pair
`(txid, id)`: rows are readable only once every transaction that could still insert below them
has ended (`txid < pg_snapshot_xmin(pg_current_snapshot())`, §3.1), and the pair, not the id,
orders them (§3.1: a lower id can carry a higher txid). On SQLite writers are serialized and ids
are `AUTOINCREMENT`, so the position is `(0, id)`. The *horizon* is the position at or below which
every row is settled (committed for good, or never coming): a reader that caught up stands there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import UserDefinedType

from pipeline.db import as_utc, write_transaction
from pipeline.tables import event_outbox, outbox_offsets

c = event_outbox.c


class Position(NamedTuple):
    """Where a reader stands: `(txid, id)` on PostgreSQL, `(0, id)` on SQLite; commit order."""

    txid: int
    id: int

    def __str__(self) -> str:
        return f"{self.txid}/{self.id}" if self.txid else str(self.id)


START = Position(0, 0)


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id type; we only ever cast to it (never select it raw)."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "xid8"


def _as_xid8(value: int) -> ColumnElement[Any]:
    """xid8 has no cast from bigint, only from text: `CAST(CAST(:v AS text) AS xid8)`."""
    return sa.cast(sa.cast(sa.literal(value, sa.BigInteger), sa.Text), Xid8())


class SqliteSql:
    """SQLite: serialized writers give AUTOINCREMENT ids in commit order; the id is the position.

    `event_id` (32 hex digits) and `occurred_at` (ISO text) are read raw and converted by hand:
    cheaper than SQLAlchemy's Uuid and DateTime processors on the reader's hot path.
    """

    txid_column: ColumnElement[Any] = sa.literal_column("0", sa.BigInteger)
    event_id_column: ColumnElement[Any] = sa.type_coerce(c.event_id, sa.String)
    occurred_at_column: ColumnElement[Any] = sa.type_coerce(c.occurred_at, sa.String)
    order_by = (c.id,)

    def __init__(self) -> None:
        self._last_time: tuple[str, datetime] = ("", datetime.min)

    @staticmethod
    def to_uuid(hex_: str) -> str:
        return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"

    def to_datetime(self, text: str) -> datetime:
        """Stored as naive UTC. A page's events share one timestamp, so the last one is kept."""
        if text != self._last_time[0]:
            self._last_time = (text, datetime.fromisoformat(text).replace(tzinfo=UTC))
        return self._last_time[1]

    def horizon(self, conn: Connection) -> Position:
        top = conn.execute(sa.select(sa.func.max(c.id))).scalar()
        return Position(0, int(top or 0))

    def after(self, pos: Position) -> ColumnElement[bool]:
        return c.id > pos.id

    def through(self, pos: Position) -> ColumnElement[bool]:
        return c.id <= pos.id


class PostgresSql:
    """PostgreSQL: `(txid, id)` order below the xmin horizon of the current snapshot (§3.2)."""

    _txid = sa.literal_column("event_outbox.txid", Xid8())
    txid_column: ColumnElement[Any] = sa.cast(sa.cast(_txid, sa.Text), sa.BigInteger)
    event_id_column: ColumnElement[Any] = sa.cast(c.event_id, sa.Text)
    occurred_at_column: ColumnElement[Any] = c.occurred_at  # psycopg returns it timezone-aware
    order_by = (_txid, c.id)
    _xmin = sa.select(
        sa.cast(
            sa.cast(sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot()), sa.Text), sa.BigInteger
        )
    )

    @staticmethod
    def to_uuid(text: str) -> str:
        return text

    @staticmethod
    def to_datetime(value: datetime) -> datetime:
        return value

    def horizon(self, conn: Connection) -> Position:
        """Every transaction below xmin has ended: rows with `txid < xmin` never change again."""
        return Position(int(conn.execute(self._xmin).scalar_one()), 0)

    def after(self, pos: Position) -> ColumnElement[bool]:
        return sa.tuple_(self._txid, c.id) > sa.tuple_(_as_xid8(pos.txid), sa.literal(pos.id))

    def through(self, pos: Position) -> ColumnElement[bool]:
        return sa.tuple_(self._txid, c.id) <= sa.tuple_(_as_xid8(pos.txid), sa.literal(pos.id))


OutboxSql = SqliteSql | PostgresSql


def sql_for(conn: Connection | Engine) -> OutboxSql:
    return PostgresSql() if conn.dialect.name == "postgresql" else SqliteSql()


@dataclass(frozen=True)
class Offset:
    """One row of `outbox_offsets`: a registered consumer, its acknowledged position and filters."""

    consumer: str
    position: Position
    filters: dict[str, Any]
    updated_at: datetime | None


class OffsetStore:
    """`outbox_offsets`: register a consumer once, then move its position forward only."""

    def load(self, conn: Connection, consumer: str, lock: bool = False) -> Offset | None:
        query = sa.select(outbox_offsets).where(outbox_offsets.c.consumer == consumer)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()  # a second instance of this consumer waits its turn
        row = conn.execute(query).mappings().first()
        return _offset(row) if row else None

    def all(self, conn: Connection) -> list[Offset]:
        query = sa.select(outbox_offsets).order_by(outbox_offsets.c.consumer)
        return [_offset(row) for row in conn.execute(query).mappings()]

    def register(
        self,
        conn: Connection,
        consumer: str,
        position: Position,
        filters: dict[str, Any],
        now: datetime,
    ) -> None:
        """Insert the row unless it exists (two processes may register one consumer at once)."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(outbox_offsets)
            .values(
                consumer=consumer,
                last_txid=position.txid,
                last_id=position.id,
                filters=filters,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["consumer"])
        )

    def save(self, conn: Connection, consumer: str, position: Position, now: datetime) -> None:
        """Advance the position; an older one (from a slower twin of the consumer) never moves it
        back."""
        row = outbox_offsets.c
        new = sa.tuple_(sa.literal(position.txid), sa.literal(position.id))
        conn.execute(
            outbox_offsets.update()
            .where(
                row.consumer == consumer,
                sa.tuple_(row.last_txid, row.last_id) < new,
            )
            .values(last_txid=position.txid, last_id=position.id, updated_at=now)
        )

    def delete(self, conn: Connection, consumer: str) -> None:
        conn.execute(outbox_offsets.delete().where(outbox_offsets.c.consumer == consumer))


def _offset(row: Any) -> Offset:
    position = Position(int(row["last_txid"]), int(row["last_id"]))
    return Offset(row["consumer"], position, row["filters"] or {}, as_utc(row["updated_at"]))


@dataclass(frozen=True)
class Lag:
    """How far behind a consumer is: its unread events (committed, matching its filters), and the
    age of the oldest."""

    consumer: str
    position: Position
    unread: int
    oldest_unread_age_s: float | None
    filters: dict[str, Any]
    updated_at: datetime | None


def measure_lag(
    conn: Connection, offset: Offset, where: list[ColumnElement[bool]], now: datetime
) -> Lag:
    """Counts every committed unread event, including those still waiting behind the horizon."""
    query = sa.select(sa.func.count(), sa.func.min(c.occurred_at)).where(
        sql_for(conn).after(offset.position), *where
    )
    unread, oldest = conn.execute(query).one()
    oldest = as_utc(oldest)
    age = None if oldest is None else (now - oldest).total_seconds()
    return Lag(
        offset.consumer, offset.position, int(unread), age, offset.filters, offset.updated_at
    )


def purge(engine: Engine, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete events older than `older_than` that every registered consumer has acknowledged.

    With no registered consumer, every settled event older than the age goes. The offsets table
    is share-locked on PostgreSQL so that no consumer registers or moves while this runs.
    """
    cutoff = (now or datetime.now(UTC)) - older_than
    with write_transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE outbox_offsets IN SHARE MODE")
        sql = sql_for(conn)
        bound = min([o.position for o in OffsetStore().all(conn)], default=sql.horizon(conn))
        result = conn.execute(
            event_outbox.delete().where(sql.through(bound), c.occurred_at < cutoff)
        )
        return int(result.rowcount)
