"""Claiming due subscriptions (DESIGN §9, engine.md "Claim due work").

One short transaction per batch: select enabled subscriptions whose `next_run_at` has passed and
whose lease no run holds, `FOR UPDATE SKIP LOCKED` on PostgreSQL (rows another process is
claiming are skipped, never waited for; SQLite's `BEGIN IMMEDIATE` lets one writer claim at a
time), then move their `next_run_at` one lease TTL ahead. That hold keeps a claimed subscription
from being claimed again before its run takes the lease; if the process dies before, the
subscription is due again one TTL later. The run sets the real next due time when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db import as_utc, write_transaction
from pipeline.retries import Due
from pipeline.subscription_store import row_subscription
from pipeline.subscriptions import Subscription
from pipeline.tables import leases, subscriptions

CANDIDATES_PER_SLOT = 4  # read a few more rows than slots, so a tenant at its share costs no slot


@dataclass(frozen=True)
class Claim:
    """A due subscription this process will run now."""

    sub: Subscription
    due: Due

    @property
    def tenant(self) -> str:
        return self.sub.tenant_id


def claim_due(
    engine: Engine,
    now: datetime,
    slots: int,
    hold_s: float,
    room: Callable[[str], int],
    full_tenants: Collection[str] = (),
) -> list[Claim]:
    """Up to `slots` due subscriptions, oldest due first, at most `room(tenant)` per tenant."""
    if slots <= 0:
        return []
    with write_transaction(engine) as conn:
        rows = (
            conn.execute(_due_query(now, slots * CANDIDATES_PER_SLOT, full_tenants))
            .mappings()
            .all()
        )
        picked = _pick(rows, slots, room)
        if picked:
            conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id.in_([row["id"] for row in picked]))
                .values(next_run_at=now + timedelta(seconds=hold_s))
            )
    return [_claim(row) for row in picked]


def _due_query(now: datetime, limit: int, full_tenants: Collection[str]) -> sa.Select[Any]:
    held = sa.exists().where(
        leases.c.subscription_id == subscriptions.c.id,
        leases.c.owner.is_not(None),
        leases.c.leased_until > now,
    )
    query = (
        sa.select(subscriptions)
        .where(subscriptions.c.enabled, subscriptions.c.next_run_at <= now, ~held)
        .order_by(subscriptions.c.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=subscriptions)
    )
    if full_tenants:
        query = query.where(subscriptions.c.tenant_id.not_in(list(full_tenants)))
    return query


def _pick(rows: Any, slots: int, room: Callable[[str], int]) -> list[Any]:
    left: dict[str, int] = {}
    picked: list[Any] = []
    for row in rows:
        tenant = row["tenant_id"]
        left.setdefault(tenant, room(tenant))
        if left[tenant] > 0 and len(picked) < slots:
            left[tenant] -= 1
            picked.append(row)
    return picked


def _claim(row: Any) -> Claim:
    due = Due(row["interval_s"], row["schedule"], as_utc(row["next_run_at"]), int(row["attempt"]))
    return Claim(row_subscription(row), due)


def next_due_at(engine: Engine) -> datetime | None:
    """The earliest `next_run_at` of an enabled subscription (how long an idle process may sleep)."""
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(sa.func.min(subscriptions.c.next_run_at)).where(subscriptions.c.enabled)
        ).scalar()
    return as_utc(value)


def tenant_count(engine: Engine) -> int:
    """Tenants with an enabled subscription (the divisor of the fair share)."""
    with engine.connect() as conn:
        query = sa.select(sa.func.count(sa.distinct(subscriptions.c.tenant_id))).where(
            subscriptions.c.enabled
        )
        return int(conn.execute(query).scalar() or 0)


def reschedule(engine: Engine, sub_id: str, values: dict[str, Any], now: datetime) -> None:
    """Store when a subscription is due next, its attempt and last error."""
    with write_transaction(engine) as conn:
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == sub_id)
            .values(updated_at=now, **values)
        )
