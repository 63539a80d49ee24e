"""Lease with fencing token, one per subscription (DESIGN §4 step 1; engine.md §2).

`acquire` claims the lease in a short transaction of its own and increments the fencing token.
A lease whose holder is gone (its TTL passed, or its process no longer exists on this host) is
taken over at once. Every page transaction calls `check_fence` first: it renews the lease and
fails with `LeaseLostError` if the token is no longer ours, so a stalled holder writes nothing.

On PostgreSQL no wait is unbounded (issue 10, finding 6): `acquire` waits at most
`ACQUIRE_LOCK_WAIT_S` (or the TTL) for the lease row, then the run is `skipped`; and `check_fence`
sets the page transaction's `idle_in_transaction_session_timeout` to the lease TTL, so a holder
stalled inside a page (SIGSTOP, a VM pause) loses its session, its row locks and its lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.db import as_utc, insert_ignore, is_postgres, with_reconnect, write_transaction
from pipeline.errors import LeaseLostError
from pipeline.tables import leases

HOST = socket.gethostname()
ACQUIRE_LOCK_WAIT_S = 5.0
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for lock_timeout


def new_owner() -> str:
    """`host:pid:nonce`: says who holds a lease, and lets a local dead holder be detected."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Lease:
    subscription_id: str
    owner: str
    fencing_token: int
    ttl_s: float


@dataclass(frozen=True)
class Holder:
    """Who holds a lease we could not take."""

    owner: str
    leased_until: datetime | None
    run_id: str | None

    def describe(self) -> str:
        until = self.leased_until.isoformat(timespec="seconds") if self.leased_until else "?"
        return f"leased by {self.owner} (run {self.run_id}) until {until}"


def holder_is_gone(owner: str | None, leased_until: datetime | None, now: datetime) -> bool:
    """A lease is free when unowned, past its TTL, or held by a dead process on this host."""
    if not owner or leased_until is None or leased_until <= now:
        return True
    return is_dead_here(owner)


def is_dead_here(owner: str) -> bool:
    """The holder is a process on this host that no longer exists (it crashed or was killed)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return host == HOST and pid.isdigit() and not _process_alive(int(pid))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped by its parent is a zombie: gone for our purpose
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


class LeaseStore:
    """Acquire, renew (`check_fence`) and release subscription leases."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def acquire(
        self,
        subscription_id: str,
        tenant_id: str,
        owner: str,
        run_id: str,
        now: datetime,
        ttl_s: float,
    ) -> tuple[Lease | None, Holder | None]:
        """Take the lease (token + 1) or say who holds it. The previous holder, if gone, is returned too."""
        try:
            return self._acquire(subscription_id, tenant_id, owner, run_id, now, ttl_s)
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            busy = f"a holder busy in a page transaction ({ACQUIRE_LOCK_WAIT_S:g} s lock wait)"
            return None, Holder(busy, None, None)

    def _acquire(
        self,
        subscription_id: str,
        tenant_id: str,
        owner: str,
        run_id: str,
        now: datetime,
        ttl_s: float,
    ) -> tuple[Lease | None, Holder | None]:
        with write_transaction(self.engine) as conn:
            set_local(conn, "lock_timeout", min(ACQUIRE_LOCK_WAIT_S, ttl_s))
            row = self._locked_row(conn, subscription_id, tenant_id)
            leased_until = as_utc(row.leased_until)
            previous = Holder(row.owner, leased_until, row.run_id) if row.owner else None
            if not holder_is_gone(row.owner, leased_until, now):
                return None, previous
            token = int(row.fencing_token) + 1
            conn.execute(
                leases.update()
                .where(leases.c.subscription_id == subscription_id)
                .values(
                    owner=owner,
                    fencing_token=token,
                    run_id=run_id,
                    leased_until=now + timedelta(seconds=ttl_s),
                    heartbeat_at=now,
                )
            )
        return Lease(subscription_id, owner, token, ttl_s), previous

    def _locked_row(
        self, conn: Connection, subscription_id: str, tenant_id: str
    ) -> sa.Row[tuple[object, ...]]:
        insert_ignore(conn, leases, {"subscription_id": subscription_id, "tenant_id": tenant_id})
        query = (
            sa.select(leases).where(leases.c.subscription_id == subscription_id).with_for_update()
        )
        row = conn.execute(query).first()
        assert row is not None
        return row

    def check_fence(self, conn: Connection, lease: Lease, now: datetime) -> None:
        """Inside a page transaction: renew the lease if it is still ours, else `LeaseLostError`."""
        renew = (
            leases.update()
            .where(
                leases.c.subscription_id == lease.subscription_id,
                leases.c.owner == lease.owner,
                leases.c.fencing_token == lease.fencing_token,
            )
            .values(leased_until=now + timedelta(seconds=lease.ttl_s), heartbeat_at=now)
        )
        if is_postgres(conn):  # the `SET LOCAL` rides on the renewal: one round trip, not two
            renew = renew.returning(
                local_timeout("idle_in_transaction_session_timeout", lease.ttl_s)
            )
        renewed = conn.execute(renew)
        if renewed.rowcount != 1:
            raise LeaseLostError(
                f"lease of subscription {lease.subscription_id} was taken over "
                f"(fencing token {lease.fencing_token} is stale)"
            )

    def heartbeat(self, lease: Lease, now: datetime) -> None:
        """Renew outside a page (e.g. while waiting on a rate limit)."""
        with write_transaction(self.engine) as conn:
            self.check_fence(conn, lease, now)

    def release(self, lease: Lease) -> None:
        """Free the lease if it is still ours (a taken-over lease is left to its new holder)."""
        with_reconnect(lambda: self._release(lease))

    def _release(self, lease: Lease) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                leases.update()
                .where(
                    leases.c.subscription_id == lease.subscription_id,
                    leases.c.owner == lease.owner,
                    leases.c.fencing_token == lease.fencing_token,
                )
                .values(owner=None, leased_until=None, run_id=None)
            )


def local_timeout(setting: str, seconds: float) -> sa.ColumnElement[str]:
    """`set_config(setting, ms, true)`: what `SET LOCAL` does, as an expression a statement the
    transaction sends anyway can carry (PostgreSQL)."""
    return sa.func.set_config(setting, str(max(1, int(seconds * 1000))), True)


def set_local(conn: Connection, setting: str, seconds: float) -> None:
    """PostgreSQL: a timeout for the rest of this transaction only (no-op elsewhere)."""
    if is_postgres(conn):
        conn.exec_driver_sql(f"SET LOCAL {setting} = {max(1, int(seconds * 1000))}")
