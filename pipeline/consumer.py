"""Outbox consumers (DESIGN §1, engine.md §3): typed, ordered, at-least-once reading of events.

    consumer = OutboxConsumer(engine, "billing", types=["message_created"], tenant_id="acme")
    for event in consumer.read():          # commit order; event.payload is a MessageCreated model
        handle(event)                      # may run twice after a crash: dedupe on event.event_id
    consumer.ack()                         # persist the position; a restart resumes after it

`follow()` keeps reading as events commit (LISTEN/NOTIFY on PostgreSQL, polling on SQLite);
`transaction()` gives effectively-once processing to a consumer that writes into this database.
The SQL (positions, the gap-safe horizon, offsets) lives in `consumer_sql`, the waiting in
`consumer_wake`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

import orjson
import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from pipeline.consumer_sql import (
    START,
    Lag,
    OffsetStore,
    Position,
    measure_lag,
    purge,
    sql_for,
)
from pipeline.consumer_wake import Listener, Poller, Waiter
from pipeline.db import is_postgres, write_transaction
from pipeline.errors import ConfigError
from pipeline.events import ChangePayload, payload_model
from pipeline.gcpause import gc_paused
from pipeline.http.clock import Clock, SystemClock
from pipeline.registry import streams
from pipeline.tables import event_outbox

c = event_outbox.c
RECHECK_S = 0.05
"""For one poll interval after a notification, an empty read is retried this often: the notified
rows are committed but may wait behind an older open transaction (the xmin horizon, §3.1)."""

Stop = threading.Event | Callable[[], bool] | None


class Event(NamedTuple):
    """One outbox row, immutable; `payload` is the pydantic model of its type (a dict when untyped).

    A NamedTuple rather than a frozen dataclass: it is built once per event read, and a frozen
    dataclass costs about five times as much to build (bench/consumer_read.py).
    """

    id: int
    event_id: str
    type: str
    aggregatetype: str
    aggregateid: str
    tenant_id: str
    source: str
    subscription_id: str | None
    run_id: str | None
    occurred_at: datetime
    payload: ChangePayload | dict[str, Any]
    position: Position

    def to_json(self) -> dict[str, Any]:
        """The whole event as JSON-ready values (payload keys as stored: `from`, `entityId`, …)."""
        payload = self.payload
        if isinstance(payload, BaseModel):
            payload = payload.model_dump(mode="json", by_alias=True)
        return {
            "id": self.id,
            "event_id": self.event_id,
            "type": self.type,
            "aggregatetype": self.aggregatetype,
            "aggregateid": self.aggregateid,
            "tenant_id": self.tenant_id,
            "source": self.source,
            "subscription_id": self.subscription_id,
            "run_id": self.run_id,
            "occurred_at": self.occurred_at.isoformat(),
            "payload": payload,
            "txid": self.position.txid or None,
        }


@dataclass(frozen=True)
class EventFilter:
    """Which events a reader sees: any of `types`, one aggregate type, one tenant (empty = all)."""

    types: tuple[str, ...] = ()
    aggregatetype: str | None = None
    tenant_id: str | None = None

    @classmethod
    def of(
        cls,
        types: Iterable[str] = (),
        aggregatetype: str | None = None,
        tenant_id: str | None = None,
    ) -> EventFilter:
        types = (types,) if isinstance(types, str) else types  # one type given bare
        return cls(tuple(sorted(set(types))), aggregatetype, tenant_id)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventFilter:
        return cls.of(data.get("types", ()), data.get("aggregatetype"), data.get("tenant_id"))

    def to_json(self) -> dict[str, Any]:
        data = {
            "types": list(self.types),
            "aggregatetype": self.aggregatetype,
            "tenant_id": self.tenant_id,
        }
        return {key: value for key, value in data.items() if value}

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [c.type.in_(self.types)] if self.types else []
        if self.aggregatetype is not None:
            clauses.append(c.aggregatetype == self.aggregatetype)
        if self.tenant_id is not None:
            clauses.append(c.tenant_id == self.tenant_id)
        return clauses


@dataclass(frozen=True)
class Batch:
    """What `OutboxConsumer.transaction()` hands out: the events, and the connection to write on."""

    events: list[Event]
    conn: Connection


class OutboxReader:
    """Reads settled events in commit order from an in-memory position; nothing is persisted.

    `typed=True` parses each payload with `payload_model(type)`: an event type no registered entity
    declares raises `KeyError` (register the entity, filter by type, or read untyped).
    """

    def __init__(
        self,
        engine: Engine,
        filters: EventFilter | None = None,
        *,
        position: Position = START,
        batch_size: int = 1000,
        typed: bool = True,
    ) -> None:
        self.engine = engine
        self.filters = filters or EventFilter()
        self.batch_size = batch_size
        self.typed = typed
        if typed:
            streams()  # the shipped connectors declare their event types when they register
        self._position = position
        self._sql = sql_for(engine)
        self._models: dict[str, type[ChangePayload]] = {}
        sql = self._sql
        columns = [
            c.id,
            sql.event_id_column,
            c.type,
            c.aggregatetype,
            c.aggregateid,
            c.tenant_id,
            c.source,
            c.subscription_id,
            c.run_id,
            sql.occurred_at_column,
            sa.cast(c.payload, sa.Text),
            sql.txid_column,
        ]
        self._query = sa.select(*columns).where(*self.filters.where())

    @property
    def position(self) -> Position:
        """Everything at or below it was returned (or did not match the filters)."""
        return self._position

    def read(self, limit: int | None = None) -> list[Event]:
        """The next events after the position, at most `limit` (default `batch_size`)."""
        with self.engine.connect() as conn:
            events, self._position = self._fetch(conn, self._position, limit or self.batch_size)
        return events

    def latest(self, count: int) -> list[Event]:
        """The last `count` settled events, oldest first; the reader then stands after them."""
        with self.engine.connect() as conn:
            horizon = self._sql.horizon(conn)
            newest_first = [sa.desc(column) for column in self._sql.order_by]
            query = self._query.where(self._sql.through(horizon)).order_by(*newest_first)
            rows = conn.execute(query.limit(count)).all()
        self._position = max(self._position, horizon)
        return [self._event(row) for row in reversed(rows)]

    def follow(
        self,
        *,
        stop: Stop = None,
        max_idle_s: float | None = None,
        poll_interval_s: float = 1.0,
        clock: Clock | None = None,
        listen: bool | None = None,
        after_batch: Callable[[], None] | None = None,
    ) -> Generator[Event, None, None]:
        """Events as they commit, until `stop` is set or nothing arrived for `max_idle_s`.

        PostgreSQL LISTENs on `pipeline_outbox` (`listen=False` turns it off) and still polls every
        `poll_interval_s`; SQLite polls through `clock` (pass a `FakeClock` in tests). Close the
        iterator (`contextlib.closing`) when leaving early: it owns a connection on PostgreSQL.
        `after_batch` runs once the caller has taken every event of a read, e.g. `consumer.ack`.
        """
        listen = is_postgres(self.engine) if listen is None else listen
        waiter: Waiter = Listener(self.engine) if listen else Poller(clock or SystemClock())
        try:
            yield from self._follow(waiter, stop, max_idle_s, poll_interval_s, after_batch)
        finally:
            waiter.close()

    def _follow(
        self,
        waiter: Waiter,
        stop: Stop,
        max_idle_s: float | None,
        poll_interval_s: float,
        after_batch: Callable[[], None] | None,
    ) -> Iterator[Event]:
        idle_since, notified_at = waiter.monotonic(), float("-inf")
        while not _is_set(stop):
            events = self.read()
            yield from self._deliver(events)
            if after_batch is not None:
                after_batch()
            now = waiter.monotonic()
            if events:
                idle_since = now
            elif max_idle_s is not None and now - idle_since >= max_idle_s:
                return
            elif waiter.wait(_wait_s(now, idle_since, notified_at, poll_interval_s, max_idle_s)):
                notified_at = waiter.monotonic()

    def _deliver(self, events: list[Event]) -> Generator[Event, None, None]:
        for event in events:
            try:
                yield event
            except GeneratorExit:  # the caller left mid-batch: what it did not take stays unread
                self._position = event.position
                raise

    def _fetch(self, conn: Connection, start: Position, limit: int) -> tuple[list[Event], Position]:
        """One batch after `start` and the position after it: the horizon when the batch ran dry."""
        horizon = self._sql.horizon(conn)
        query = (
            self._query.where(self._sql.after(start), self._sql.through(horizon))
            .order_by(*self._sql.order_by)
            .limit(limit)
        )
        rows = conn.execute(query).all()
        with gc_paused():
            events = [self._event(row) for row in rows]
        if len(events) < limit:
            return events, max(start, horizon)  # nothing else below the horizon matches the filters
        return events, events[-1].position

    def _event(self, row: Sequence[Any]) -> Event:
        """The hot path of every read (bench/consumer_read.py): columns come raw, converted here."""
        id_, event_id, type_, aggtype, aggid, tenant, source, sub, run, when, payload, txid = row
        sql = self._sql
        return Event(
            id_,
            sql.to_uuid(event_id),
            type_,
            aggtype,
            aggid,
            tenant,
            source,
            sub,
            run,
            sql.to_datetime(when),
            self._parse(type_, payload),
            Position(txid, id_),
        )

    def _parse(self, type_: str, payload: str) -> ChangePayload | dict[str, Any]:
        if not self.typed:
            return orjson.loads(payload)  # type: ignore[no-any-return]
        model = self._models.get(type_)
        if model is None:
            model = self._models[type_] = payload_model(type_)
        return model.model_validate_json(payload)


class OutboxConsumer(OutboxReader):
    """A named reader whose acknowledged position is kept in `outbox_offsets` (at-least-once).

    The first use registers the consumer at the oldest event (`start="earliest"`) or at the
    newest (`"latest"`). Its filters are part of it: opening it with other filters is a
    `ConfigError`, since events it skipped under the old filters would never come back.
    """

    def __init__(
        self,
        engine: Engine,
        consumer: str,
        *,
        types: Iterable[str] = (),
        aggregatetype: str | None = None,
        tenant_id: str | None = None,
        start: Literal["earliest", "latest"] = "earliest",
        batch_size: int = 1000,
        typed: bool = True,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            engine,
            EventFilter.of(types, aggregatetype, tenant_id),
            batch_size=batch_size,
            typed=typed,
        )
        self.name = consumer
        self.clock = clock or SystemClock()
        self._offsets = OffsetStore()
        self._position = self._acked = self._register(start)
        self._last_batch: tuple[int, Position] | None = None

    def read(self, limit: int | None = None) -> list[Event]:
        events = super().read(limit)
        self._last_batch = (events[-1].id, self._position) if events else None
        return events

    def ack(self, through: Event | None = None) -> None:
        """Persist the position: through `through`, or past everything read so far."""
        position = self._position
        if through is not None and (self._last_batch is None or through.id != self._last_batch[0]):
            position = through.position  # not the end of the latest batch: stop right after it
        if position <= self._acked:
            return
        with write_transaction(self.engine) as conn:
            self._offsets.save(conn, self.name, position, self.clock.now())
        self._acked = position

    def follow(self, *, ack: bool = False, **options: Any) -> Generator[Event, None, None]:
        """`OutboxReader.follow`; `ack=True` acknowledges each batch once the caller took it all."""
        then = options.pop("after_batch", None)
        if ack:
            options["after_batch"] = self.ack if then is None else _both(self.ack, then)
        else:
            options["after_batch"] = then
        return super().follow(**options)

    @contextmanager
    def transaction(self, limit: int | None = None) -> Iterator[Batch]:
        """Effectively-once: the caller's writes on `batch.conn` commit with the new position.

        The offset row is locked (PostgreSQL) or the database write-locked (SQLite) meanwhile, so
        a second instance of this consumer waits instead of processing the same events.
        """
        with write_transaction(self.engine) as conn:
            offset = self._offsets.load(conn, self.name, lock=True)
            start = offset.position if offset else START
            events, end = self._fetch(conn, start, limit or self.batch_size)
            yield Batch(events, conn)
            self._offsets.save(conn, self.name, end, self.clock.now())
        self._position, self._acked = max(self._position, end), max(self._acked, end)

    def lag(self, now: datetime | None = None) -> Lag:
        """Unread events and the age of the oldest, from the acknowledged position."""
        [lag] = consumer_lags(self.engine, now or self.clock.now(), only=self.name)
        return lag

    def _register(self, start: str) -> Position:
        with write_transaction(self.engine) as conn:
            offset = self._offsets.load(conn, self.name)
            if offset is None:
                first = START if start == "earliest" else self._sql.horizon(conn)
                filters = self.filters.to_json()
                self._offsets.register(conn, self.name, first, filters, self.clock.now())
                offset = self._offsets.load(conn, self.name)
        assert offset is not None
        if EventFilter.from_json(offset.filters) != self.filters:
            raise ConfigError(
                f"consumer {self.name!r} reads {describe_filters(offset.filters)}, not "
                f"{describe_filters(self.filters.to_json())}; use another consumer name "
                "(or forget_consumer() it first)"
            )
        return offset.position


def consumer_lags(
    engine: Engine, now: datetime | None = None, only: str | None = None
) -> list[Lag]:
    """Lag of every registered consumer (or of `only`), by name."""
    now = now or SystemClock().now()
    with engine.connect() as conn:
        offsets = [o for o in OffsetStore().all(conn) if only is None or o.consumer == only]
        return [
            measure_lag(conn, o, EventFilter.from_json(o.filters).where(), now) for o in offsets
        ]


def forget_consumer(engine: Engine, consumer: str) -> None:
    """Unregister a consumer: it no longer holds back purges, and its next use starts afresh."""
    with write_transaction(engine) as conn:
        OffsetStore().delete(conn, consumer)


def _wait_s(
    now: float,
    idle_since: float,
    notified_at: float,
    poll_interval_s: float,
    max_idle_s: float | None,
) -> float:
    """A short recheck for one poll interval after a notification, else the poll interval; never
    past `max_idle_s`."""
    delay_s = RECHECK_S if now - notified_at < poll_interval_s else poll_interval_s
    return delay_s if max_idle_s is None else min(delay_s, max_idle_s - (now - idle_since))


def describe_filters(filters: dict[str, Any]) -> str:
    """`types=a,b tenant_id=A`, or `every event`."""
    parts = [f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in filters.items()]
    return " ".join(parts) or "every event"


def _both(first: Callable[[], None], then: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        first()
        then()

    return run


def _is_set(stop: Stop) -> bool:
    if stop is None:
        return False
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())


__all__ = [
    "START",
    "Batch",
    "Event",
    "EventFilter",
    "Lag",
    "OutboxConsumer",
    "OutboxReader",
    "Position",
    "consumer_lags",
    "describe_filters",
    "forget_consumer",
    "purge",
]
