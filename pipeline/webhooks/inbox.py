"""The durable webhook inbox, `integration_inbox` (DESIGN §8).

A delivery is stored (raw body, unique per tenant, connector and delivery id) before the vendor gets
its 2xx. Appliers claim the oldest unclaimed delivery's subscription with `FOR UPDATE SKIP LOCKED`
(PostgreSQL; SQLite has one writer at a time), so several `serve` processes spread the work; the
claim is only a hint with an expiry, the subscription's lease is what keeps one applier per
subscription, and it applies that subscription's pending deliveries in arrival order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from pipeline.db import is_postgres, write_transaction
from pipeline.tables import inbox


@dataclass(frozen=True)
class InboxKey:
    """The deliveries of one subscription: tenant, connector and stream."""

    tenant_id: str
    connector: str
    stream: str


@dataclass(frozen=True)
class Delivery:
    """One stored delivery, as the applier reads it."""

    id: int
    delivery_id: str
    body: bytes


def store(conn: Connection, key: InboxKey, delivery_id: str, body: bytes, now: datetime) -> bool:
    """Insert a delivery; False when this delivery id is already held (a vendor retry)."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(inbox).values(
        tenant_id=key.tenant_id,
        connector=key.connector,
        stream=key.stream,
        delivery_id=delivery_id,
        body=body,
        status="pending",
        received_at=now,
    )
    inserted = statement.on_conflict_do_nothing().returning(inbox.c.id)
    return conn.execute(inserted).first() is not None  # rowcount lies under implicit RETURNING


def _claimable(now: datetime, skip: Collection[InboxKey] = ()) -> Any:
    c = inbox.c
    unclaimed = sa.or_(c.claimed_until.is_(None), c.claimed_until < now)
    return sa.and_(c.status == "pending", unclaimed, *(sa.not_(sa.and_(*_of(k))) for k in skip))


def claim(
    engine: Engine,
    owner: str,
    now: datetime,
    ttl_s: float,
    limit: int,
    skip: Collection[InboxKey] = (),
) -> InboxKey | None:
    """Claim up to `limit` pending deliveries of the subscription with the oldest unclaimed one,
    passing over the subscriptions in `skip` (a run of ours is applying them already)."""
    c = inbox.c
    with engine.connect() as conn:  # most calls find nothing: answer without a write transaction
        if conn.execute(sa.select(c.id).where(_claimable(now, skip)).limit(1)).first() is None:
            return None
    with write_transaction(engine) as conn:
        oldest = conn.execute(
            sa.select(c.tenant_id, c.connector, c.stream)
            .where(_claimable(now, skip))
            .order_by(c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if oldest is None:
            return None
        key = InboxKey(*oldest)
        ids = (
            sa.select(c.id)
            .where(*_of(key), _claimable(now))
            .order_by(c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        until = now + timedelta(seconds=ttl_s)
        conn.execute(
            inbox.update()
            .where(c.id.in_(ids.scalar_subquery()))
            .values(claimed_by=owner, claimed_until=until)
        )
    return key


def _of(key: InboxKey) -> tuple[Any, ...]:
    c = inbox.c
    return (c.tenant_id == key.tenant_id, c.connector == key.connector, c.stream == key.stream)


def pending(engine: Engine, key: InboxKey, limit: int) -> list[Delivery]:
    """The subscription's pending deliveries, oldest first (read under its lease)."""
    c = inbox.c
    query = (
        sa.select(c.id, c.delivery_id, c.body)
        .where(*_of(key), c.status == "pending")
        .order_by(c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        if is_postgres(conn):  # one statement: no BEGIN and ROLLBACK round trips around it
            conn.execution_options(isolation_level="AUTOCOMMIT")  # this connection, in place
        return [Delivery(int(r[0]), r[1], bytes(r[2])) for r in conn.execute(query)]


def release(engine: Engine, key: InboxKey, owner: str, until: datetime | None = None) -> None:
    """Drop our claims on a subscription's deliveries (`until`: keep them off limits till then)."""
    c = inbox.c
    with write_transaction(engine) as conn:
        conn.execute(
            inbox.update()
            .where(*_of(key), c.status == "pending", c.claimed_by == owner)
            .values(claimed_by=None if until is None else owner, claimed_until=until)
        )


def mark(
    conn: Connection,
    outcomes: Sequence[tuple[int, str | None]],
    run_id: str,
    now: datetime,
) -> None:
    """Inside the page transaction: each delivery applied, or failed with its error."""
    c = inbox.c
    statement = (
        inbox.update()
        .where(c.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"),
            error=sa.bindparam("b_error"),
            run_id=run_id,
            applied_at=now,
            claimed_by=None,
            claimed_until=None,
        )
    )
    rows = [
        {"b_id": id_, "b_status": "failed" if error else "applied", "b_error": error}
        for id_, error in outcomes
    ]
    if rows:
        conn.execute(statement, rows)


def deliveries_of_run(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    """The deliveries a webhook run applied, failed ones first (for `pipeline runs show`)."""
    c = inbox.c
    query = (
        sa.select(c.id, c.connector, c.delivery_id, c.status, c.received_at, c.error)
        .where(c.run_id == run_id)
        .order_by((c.status == "failed").desc(), c.id)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
