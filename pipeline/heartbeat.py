"""Renews a run's lease in the background while it works or waits on a rate limit (engine.md §2).

A paused or crashed process stops renewing, its lease expires, and another process may take the
subscription over; the paused one's next page is then rejected by the fencing check. A heartbeat
that finds the lease taken over trips the run's `LeaseWatch`: the source's next vendor call
raises `LeaseLostError` instead of calling the vendor for a run that can no longer commit.
"""

from __future__ import annotations

import logging
import threading

from pipeline.errors import LeaseLostError
from pipeline.http.clock import Clock
from pipeline.leases import Lease, LeaseStore

log = logging.getLogger("pipeline.lease")


class LeaseWatch:
    """Whether the run still holds its lease, as the heartbeat last saw; `check` before vendor calls."""

    def __init__(self) -> None:
        self._lost = threading.Event()
        self.reason = ""

    @property
    def is_lost(self) -> bool:
        return self._lost.is_set()

    def lose(self, reason: str) -> None:
        self.reason = reason
        self._lost.set()

    def check(self) -> None:
        """Raise `LeaseLostError` once the lease is known lost (the source's next call stops)."""
        if self._lost.is_set():
            raise LeaseLostError(f"{self.reason}; no more vendor calls for this run")


class Heartbeat:
    """A daemon thread calling `LeaseStore.heartbeat` every `interval_s` until stopped."""

    def __init__(
        self,
        leases: LeaseStore,
        lease: Lease,
        clock: Clock,
        interval_s: float,
        watch: LeaseWatch | None = None,
    ) -> None:
        self.leases, self.lease, self.clock = leases, lease, clock
        self.interval_s = interval_s
        self.watch = watch or LeaseWatch()
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
            except LeaseLostError as exc:
                self.watch.lose(str(exc))
                return
            except Exception as exc:  # noqa: BLE001  a database hiccup: the next page's fencing check decides
                log.warning("lease heartbeat failed: %s", exc)

    @property
    def is_lost(self) -> bool:
        return self.watch.is_lost
