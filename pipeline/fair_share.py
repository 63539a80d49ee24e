"""Fair share of a scheduler's workers between tenants (engine.md §5: tenant isolation).

A tenant whose vendor answers with a 429 storm keeps its runs waiting on `Retry-After` (up to
`max_wait_s` at a time). Left alone, those runs could hold every worker of a process and delay
other tenants by whole minutes. So a tenant holds at most `workers // tenants` workers (at least
one) in each process; its other due subscriptions are not claimed, so they stay due in the
database for the next free slot here or for another process. Every process applies the same
share, so a tenant never holds more than its share of all the workers.
"""

from __future__ import annotations

import threading
from collections import Counter


class TenantShares:
    """How many runs each tenant may have in flight in one process."""

    def __init__(self, workers: int, tenants: int) -> None:
        self.workers = workers
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.set_tenants(tenants)

    def set_tenants(self, tenants: int) -> None:
        """The number of tenants with enabled subscriptions (refreshed by the scheduler)."""
        self.share = max(1, self.workers // max(1, tenants))

    def room(self, tenant: str) -> int:
        """How many more runs of this tenant may start now."""
        with self._lock:
            return max(0, self.share - self._in_flight[tenant])

    def full(self) -> set[str]:
        """Tenants at their share: the claim leaves their due subscriptions alone."""
        with self._lock:
            return {t for t, n in self._in_flight.items() if n >= self.share}

    def acquire(self, tenant: str) -> bool:
        """Take a slot, unless the tenant holds its whole share."""
        with self._lock:
            if self._in_flight[tenant] >= self.share:
                return False
            self._in_flight[tenant] += 1
            return True

    def release(self, tenant: str) -> None:
        with self._lock:
            self._in_flight[tenant] -= 1
            if self._in_flight[tenant] <= 0:
                del self._in_flight[tenant]

    def in_flight(self, tenant: str) -> int:
        with self._lock:
            return self._in_flight[tenant]
