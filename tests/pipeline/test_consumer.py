"""Outbox consumers: typed, ordered, at-least-once reading of change events (engine.md §3)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from itertools import islice
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.changes import Change
from pipeline.consumer import Event, OutboxConsumer, OutboxReader, forget_consumer, purge
from pipeline.errors import ConfigError
from pipeline.events import build_payload, payload_model
from pipeline.http.clock import FakeClock
from pipeline.outbox import OutboxWriter
from pipeline.subscriptions import Subscription
from pipeline.testing import Db, ScriptedSource, item

postgres_only = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def sync(db: Db, *ids: str, tenant: str = "default", **fields: Any) -> None:
    """One run of the testing stream for `tenant`, whose events are then readable."""
    sub = Subscription("testing", "items", tenant)
    db.run(ScriptedSource([[item(i, **fields) for i in ids]]), sub)
    settle(db)


def settle(db: Db) -> None:
    """PostgreSQL: wait until every committed event is below the xmin horizon, which any open
    transaction in the cluster (another test run, say) holds back for a moment. SQLite: nothing."""
    if db.dialect != "postgresql":
        return
    behind = sa.text(
        "SELECT EXISTS (SELECT 1 FROM event_outbox"
        " WHERE txid >= pg_snapshot_xmin(pg_current_snapshot()))"
    )
    deadline = time.monotonic() + 10
    with db.engine.connect() as conn:
        while conn.execute(behind).scalar() and time.monotonic() < deadline:
            time.sleep(0.01)


def external_ids(events: list[Event]) -> list[str]:
    return [e.payload.externalId for e in events]  # type: ignore[union-attr]


def seen(events: list[Event]) -> list[tuple[Any, str]]:
    """(type, external id) of each event."""
    return [(e.type, e.payload.externalId) for e in events]  # type: ignore[union-attr]


def take(reader: OutboxReader, count: int, **options: Any) -> list[Event]:
    """The next `count` events through follow mode (real waits on PostgreSQL only)."""
    with closing(reader.follow(max_idle_s=5.0, **options)) as events:
        return list(islice(events, count))


def emit(conn: sa.Connection, external_id: str) -> None:
    """One valid item_created row through the real writer (which also NOTIFYs on PostgreSQL)."""
    entity_id = str(uuid.uuid4())
    OutboxWriter().emit(
        conn,
        [
            {
                "event_id": str(uuid.uuid4()),
                "aggregatetype": "item",
                "aggregateid": entity_id,
                "type": "item_created",
                "payload": build_payload(entity_id, external_id, "testing", {}),
                "tenant_id": "default",
                "source": "integration",
                "occurred_at": FakeClock().now(),
            }
        ],
    )


def test_events_come_typed_and_in_commit_order(db: Db) -> None:
    sync(db, "1", "2")
    sync(db, "2", status="closed")

    events = OutboxConsumer(db.engine, "billing").read()

    assert seen(events) == [("item_created", "1"), ("item_created", "2"), ("item_edited", "2")]
    assert isinstance(events[2].payload, payload_model("item_edited"))
    assert events[2].payload.changedFields["status"].to == "closed"  # type: ignore[union-attr]
    assert isinstance(events[0].payload.entityId, uuid.UUID)  # type: ignore[union-attr]
    assert events[0].aggregateid == str(events[0].payload.entityId)  # type: ignore[union-attr]


def test_unacknowledged_events_are_read_again_by_a_restarted_consumer(db: Db) -> None:
    sync(db, "1", "2")
    first = OutboxConsumer(db.engine, "billing").read()

    again = OutboxConsumer(db.engine, "billing").read()  # the first one died before ack()

    assert [e.event_id for e in again] == [e.event_id for e in first]  # dedupe on event_id


def test_acknowledged_events_are_never_read_again(db: Db) -> None:
    sync(db, "1", "2")
    consumer = OutboxConsumer(db.engine, "billing")
    consumer.read()
    consumer.ack()
    sync(db, "3")

    restarted = OutboxConsumer(db.engine, "billing")

    assert external_ids(restarted.read()) == ["3"]
    assert restarted.read() == []


def test_ack_through_an_event_keeps_the_rest_of_the_batch_unread(db: Db) -> None:
    sync(db, "1", "2", "3")
    consumer = OutboxConsumer(db.engine, "billing")
    consumer.ack(consumer.read()[0])

    assert external_ids(OutboxConsumer(db.engine, "billing").read()) == ["2", "3"]


def test_two_consumers_keep_independent_positions(db: Db) -> None:
    sync(db, "1", "2")
    billing, search = OutboxConsumer(db.engine, "billing"), OutboxConsumer(db.engine, "search")
    billing.read()
    billing.ack()

    assert external_ids(search.read()) == ["1", "2"]
    assert OutboxConsumer(db.engine, "billing").read() == []


def test_a_tenant_scoped_consumer_never_sees_another_tenant(db: Db) -> None:
    sync(db, "a1", tenant="A")
    sync(db, "b1", tenant="B")
    sync(db, "a2", tenant="A")
    consumer = OutboxConsumer(db.engine, "billing-a", tenant_id="A")

    events = consumer.read()

    assert {e.tenant_id for e in events} == {"A"} and external_ids(events) == ["a1", "a2"]
    assert consumer.lag().unread == 2


def test_type_and_aggregate_filters(db: Db) -> None:
    sync(db, "1", "2")
    db.run(ScriptedSource([[Change.delete("1")]]))
    settle(db)
    consumer = OutboxConsumer(db.engine, "audit", types=["item_deleted"], aggregatetype="item")

    assert seen(consumer.read()) == [("item_deleted", "1")]
    assert OutboxConsumer(db.engine, "other", aggregatetype="message").read() == []


def test_a_consumer_cannot_change_its_filters(db: Db) -> None:
    OutboxConsumer(db.engine, "billing", tenant_id="A")

    with pytest.raises(ConfigError, match="consumer 'billing' reads tenant_id=A"):
        OutboxConsumer(db.engine, "billing")


def test_a_rolled_back_event_is_never_read(db: Db) -> None:
    consumer = OutboxConsumer(db.engine, "billing")
    with db.engine.connect() as conn:
        with conn.begin() as tx:
            emit(conn, "ghost")
            tx.rollback()
        with conn.begin():
            emit(conn, "kept")
    settle(db)

    assert external_ids(consumer.read()) == ["kept"]


def test_latest_consumer_starts_after_existing_events(db: Db) -> None:
    sync(db, "1")
    consumer = OutboxConsumer(db.engine, "new", start="latest")
    sync(db, "2")

    assert external_ids(consumer.read()) == ["2"]


def test_lag_counts_unread_events_and_the_age_of_the_oldest(db: Db) -> None:
    sync(db, "1", "2", "3")
    consumer = OutboxConsumer(db.engine, "billing", clock=db.clock)
    consumer.ack(consumer.read(1)[0])
    db.clock.advance(90)

    lag = consumer.lag()

    assert (lag.consumer, lag.unread, lag.oldest_unread_age_s) == ("billing", 2, 90.0)


def test_purge_keeps_what_the_slowest_consumer_has_not_acknowledged(db: Db) -> None:
    sync(db, "1", "2", "3")
    fast, slow = OutboxConsumer(db.engine, "fast"), OutboxConsumer(db.engine, "slow")
    fast.read()
    fast.ack()
    slow.ack(slow.read(1)[0])
    later = db.clock.now() + timedelta(days=2)

    assert purge(db.engine, timedelta(days=30), now=later) == 0  # not old enough
    assert purge(db.engine, timedelta(days=1), now=later) == 1
    assert external_ids(OutboxConsumer(db.engine, "slow").read()) == ["2", "3"]


def test_a_consumer_that_never_read_blocks_every_purge(db: Db) -> None:
    sync(db, "1")
    OutboxConsumer(db.engine, "idle")

    assert purge(db.engine, timedelta(0), now=db.clock.now() + timedelta(days=1)) == 0


def test_a_forgotten_consumer_no_longer_holds_back_purges(db: Db) -> None:
    sync(db, "1")
    OutboxConsumer(db.engine, "idle", tenant_id="A")

    forget_consumer(db.engine, "idle")

    assert purge(db.engine, timedelta(0), now=db.clock.now() + timedelta(days=1)) == 1
    assert OutboxConsumer(db.engine, "idle").read() == []  # registered afresh, other filters


@pytest.fixture
def ledger(db: Db) -> Iterator[sa.Table]:
    """A table of the consumer's own, in the same database as the outbox."""
    table = sa.Table(
        "billing_ledger", sa.MetaData(), sa.Column("event_id", sa.String(36), primary_key=True)
    )
    table.create(db.engine, checkfirst=True)
    yield table
    table.drop(db.engine)


def test_transaction_commits_the_consumers_writes_with_its_position(
    db: Db, ledger: sa.Table
) -> None:
    sync(db, "1", "2")
    consumer = OutboxConsumer(db.engine, "billing")
    with pytest.raises(RuntimeError), consumer.transaction() as batch:
        batch.conn.execute(ledger.insert(), [{"event_id": e.event_id} for e in batch.events])
        raise RuntimeError("crash before commit")

    with consumer.transaction() as batch:
        batch.conn.execute(ledger.insert(), [{"event_id": e.event_id} for e in batch.events])

    assert len(batch.events) == 2 and len(db.rows(sa.select(ledger))) == 2
    assert consumer.lag().unread == 0
    assert OutboxConsumer(db.engine, "billing").read() == []


def test_follow_delivers_events_committed_while_it_waits(db: Db) -> None:
    sync(db, "1")

    class WritingClock(FakeClock):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if len(self.slept) == 1:
                sync(db, "2")  # committed while the follower waits

    clock = WritingClock()
    consumer = OutboxConsumer(db.engine, "billing")

    events = list(consumer.follow(clock=clock, listen=False, max_idle_s=3.0, ack=True))

    assert external_ids(events) == ["1", "2"]
    assert clock.slept == [1.0, 1.0, 1.0, 1.0]  # polled every second, never slept for real
    assert OutboxConsumer(db.engine, "billing").read() == []  # each batch was acknowledged


def test_follow_stops_when_told_without_waiting(db: Db) -> None:
    sync(db, "1", "2")
    clock, events = FakeClock(), []

    for event in OutboxReader(db.engine).follow(stop=lambda: bool(events), clock=clock):
        events.append(event)

    assert external_ids(events) == ["1", "2"] and clock.slept == []


def test_leaving_follow_mid_batch_leaves_the_rest_unread(db: Db) -> None:
    sync(db, "1", "2", "3")
    reader = OutboxReader(db.engine)

    assert external_ids(take(reader, 1, clock=FakeClock(), listen=False)) == ["1"]
    assert external_ids(reader.read()) == ["2", "3"]


@postgres_only
def test_reader_skips_nothing_when_transactions_commit_out_of_id_order(db: Db) -> None:
    consumer = OutboxConsumer(db.engine, "billing")
    with db.engine.connect() as t1, db.engine.connect() as t2:
        tx1 = t1.begin()
        emit(t1, "from T1")  # id 1
        with t2.begin():
            emit(t2, "from T2")  # id 2 commits first
        while_t1_open = consumer.read()
        tx1.commit()

    events = take(consumer, 2)

    assert while_t1_open == []  # an id cursor would have moved past id 1 here, losing it
    assert [e.id for e in events] == [1, 2]
    assert external_ids(events) == ["from T1", "from T2"]
    assert consumer.read() == []


@postgres_only
def test_a_lower_id_with_a_later_txid_is_read_after_it_commits(db: Db) -> None:
    consumer = OutboxConsumer(db.engine, "billing")
    with db.engine.connect() as ta, db.engine.connect() as tb:
        tx_a = ta.begin()
        ta.execute(sa.select(sa.func.pg_current_xact_id()))  # T_a takes its txid first
        tx_b = tb.begin()
        emit(tb, "T_b")  # id 1, later txid
        emit(ta, "T_a")  # id 2, earlier txid
        tx_a.commit()
        first = take(consumer, 1)
        tx_b.commit()

    second = take(consumer, 1)

    assert [e.id for e in first + second] == [2, 1]
    assert external_ids(first + second) == ["T_a", "T_b"]
    assert consumer.read() == []


def follow_while(db: Db, write: Any) -> tuple[list[Event], float]:
    """Follow (LISTEN, 5 s safety poll) while a thread runs `write` after the first empty read."""
    writer = threading.Thread(target=write)
    reader = OutboxReader(db.engine)
    start = lambda: None if writer.ident else writer.start()  # noqa: E731
    with closing(reader.follow(poll_interval_s=5.0, max_idle_s=5.0, after_batch=start)) as events:
        received = [next(events)]
    done = time.monotonic()
    writer.join()
    return received + reader.read(), done


@postgres_only
def test_follow_wakes_on_a_commit_from_another_thread(db: Db) -> None:
    committed: list[float] = []

    def write() -> None:
        with db.engine.begin() as conn:
            emit(conn, "live")
        committed.append(time.monotonic())

    events, received = follow_while(db, write)

    assert external_ids(events) == ["live"]
    assert received - committed[0] < 1.5  # woken by NOTIFY, well before the 5 s poll


@postgres_only
def test_follow_never_delivers_a_rolled_back_event(db: Db) -> None:
    def write() -> None:
        with db.engine.connect() as conn:
            with conn.begin() as tx:
                emit(conn, "ghost")
                tx.rollback()
            with conn.begin():
                emit(conn, "kept")

    events, _ = follow_while(db, write)

    assert external_ids(events) == ["kept"]
