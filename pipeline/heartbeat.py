"""Renews a run's lease in the background while it works or waits on a rate limit (engine.md §2).

A paused or crashed process stops renewing, its lease expires, and another process may take the
subscription over; the paused one's next page is then rejected by the fencing check.
"""

from __future__ import annotations

import logging
import threading

from pipeline.errors import LeaseLostError
from pipeline.http.clock import Clock
from pipeline.leases import Lease, LeaseStore

log = logging.getLogger("pipeline.lease")


class Heartbeat:
    """A daemon thread calling `LeaseStore.heartbeat` every `interval_s` until stopped."""

    def __init__(self, leases: LeaseStore, lease: Lease, clock: Clock, interval_s: float) -> None:
        self.leases, self.lease, self.clock = leases, lease, clock
        self.interval_s = interval_s
        self.is_lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.leases.heartbeat(self.lease, self.clock.now())
            except LeaseLostError:
                self.is_lost = True
                return
            except Exception as exc:  # noqa: BLE001  a database hiccup: the next page's fencing check decides
                log.warning("lease heartbeat failed: %s", exc)
