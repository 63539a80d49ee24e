"""How a following reader waits for events (engine.md §3.4): LISTEN on PostgreSQL, polls on SQLite.

A notification is only a hint that something committed; the reader always re-reads the table, and
a timed poll backs it up, because NOTIFY is not stored and a listener can miss it.
"""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy.engine import Engine

from pipeline.http.clock import Clock
from pipeline.outbox import NOTIFY_CHANNEL


class Waiter(Protocol):
    """Blocks until something may have changed or the timeout passes; owns the time it measures."""

    def wait(self, timeout_s: float) -> bool:
        """True when woken by a notification, False on timeout."""
        ...

    def monotonic(self) -> float: ...

    def close(self) -> None: ...


class Poller:
    """Waits through the clock: real sleeps in production, `FakeClock.sleep` in tests."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def wait(self, timeout_s: float) -> bool:
        self.clock.sleep(timeout_s)
        return False

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def close(self) -> None:
        pass


class Listener:
    """LISTEN on a dedicated autocommit psycopg connection; a page transaction's NOTIFY wakes it."""

    def __init__(self, engine: Engine, channel: str = NOTIFY_CHANNEL) -> None:
        import psycopg  # the `postgres` extra; SQLite-only installs never get here

        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self.conn = psycopg.connect(*args, **kwargs, autocommit=True)
        self.conn.execute(f'LISTEN "{channel}"')

    def wait(self, timeout_s: float) -> bool:
        # Notifications that arrived between two waits are queued by psycopg and returned at once.
        # The generator is run to its end so that it releases the connection lock.
        return bool(list(self.conn.notifies(timeout=max(timeout_s, 0.0), stop_after=1)))

    def monotonic(self) -> float:
        return time.monotonic()

    def close(self) -> None:
        self.conn.close()
