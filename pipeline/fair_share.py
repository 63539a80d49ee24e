"""Fair share of a scheduler's workers between tenants (engine.md §5: tenant isolation).

A tenant whose vendor answers with a 429 storm keeps its runs waiting on `Retry-After` (up to
`max_wait_s` at a time). Left alone, those runs could hold every worker of the process and delay
other tenants by whole minutes. So a tenant may hold at most `workers // tenants` workers (at least
one) at once; a run over its share is deferred by one scheduling tick instead of taking a worker.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class TenantShares:
    """How many runs each tenant may have in flight in one process, and how many it has."""

    def __init__(self, workers: int, tenants: int) -> None:
        self.share = max(1, workers // max(1, tenants))
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, tenant: str) -> Iterator[bool]:
        """Yields whether the tenant got a worker slot (held until the block ends)."""
        with self._lock:
            granted = self._in_flight[tenant] < self.share
            if granted:
                self._in_flight[tenant] += 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._in_flight[tenant] -= 1

    def in_flight(self, tenant: str) -> int:
        with self._lock:
            return self._in_flight[tenant]
