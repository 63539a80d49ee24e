"""Fair share of a scheduler's workers between tenants (engine.md §5: tenant isolation).

A tenant whose vendor answers with a 429 storm keeps its runs waiting on `Retry-After` (up to
`max_wait_s` at a time). Left alone, those runs could hold every worker of the process and delay
other tenants by whole minutes. So a tenant may hold at most `workers // tenants` workers (at least
one) at once. A run over its share takes no worker: it queues, and the tenant's next freed slot is
handed straight to the oldest queued run, so none of a tenant's subscriptions can starve another.
"""

from __future__ import annotations

import threading
from collections import Counter, deque


class TenantShares:
    """How many runs each tenant may have in flight in one process, and who waits for a slot."""

    def __init__(self, workers: int, tenants: int) -> None:
        self.share = max(1, workers // max(1, tenants))
        self._in_flight: Counter[str] = Counter()
        self._waiting: dict[str, deque[str]] = {}
        self._handed: set[str] = set()  # runs given a slot, not started yet
        self._lock = threading.Lock()

    def acquire(self, tenant: str, key: str) -> bool:
        """Take a slot for run `key`; else queue it (once) and return False."""
        with self._lock:
            if key in self._handed:
                return False  # a slot is already on its way to this run
            waiting = self._waiting.setdefault(tenant, deque())
            if self._in_flight[tenant] < self.share and not waiting:
                self._in_flight[tenant] += 1
                return True
            if key not in waiting:
                waiting.append(key)
            return False

    def release(self, tenant: str) -> str | None:
        """Give a slot back, or hand it to the oldest queued run: its key, to be started now."""
        with self._lock:
            waiting = self._waiting.get(tenant)
            if waiting:
                key = waiting.popleft()  # the slot stays taken, now by that run
                self._handed.add(key)
                return key
            self._in_flight[tenant] -= 1
            return None

    def take_handed(self, key: str) -> None:
        """The run a slot was handed to has started on it."""
        with self._lock:
            self._handed.discard(key)

    def in_flight(self, tenant: str) -> int:
        with self._lock:
            return self._in_flight[tenant]

    def waiting(self, tenant: str) -> list[str]:
        with self._lock:
            return list(self._waiting.get(tenant, ()))
