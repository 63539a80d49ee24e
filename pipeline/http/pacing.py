"""Adaptive pacing: per tenant, vendor and method, send at the rate the vendor accepts (issue 15).

A vendor documents a rate per method ("50+ per minute", short bursts tolerated) and answers HTTP 429
with `Retry-After` when it wants a client to slow down; every peer reacts to the 429 instead of
guessing. A `Pace` is a token bucket whose rate moves, in the manner of TCP congestion control:

- it starts from the regime's documented rate and burst (or from what an earlier run learned);
- each accepted request raises the rate: by a quarter while no 429 has ever arrived (slow start),
  then by 1 % of the documented rate (additive increase), never past `max_factor` × documented;
- a 429 (the first of a storm: until a request is accepted again) cuts the rate by a tenth, to no
  more than what the vendor accepted over its last window (back to the documented rate when slow
  start overshot), empties the bucket and sends nothing on that method before `Retry-After` (or
  the vendor's reset header, when a connector's hook read it).

A `fixed` regime never probes (a wrong guess at 1 request/minute costs a minute), and a method the
regime does not rate is never paced, though it still waits out a `Retry-After`. A `Pacer` keeps one
`Pace` per (tenant, vendor, method), so two tenants never share a budget, and remembers what it
learned in a `PaceStore` (`integration_rate_limits`), so the next run and other processes start
from it and honour each other's `Retry-After`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from pipeline.errors import BudgetSpent
from pipeline.http.clock import Clock

if TYPE_CHECKING:
    from pipeline.http.budget import Regime

log = logging.getLogger("pipeline.http")

SLOW_START = 0.25
"""Growth per accepted request before the first 429: from 50/min to its cap in about 20 requests."""
ADDITIVE = 0.01
"""Growth per accepted request after a 429, as a share of the documented rate."""
FLOOR = 0.01
"""The lowest rate a cut reaches, as a share of the documented rate."""
DECREASE = 0.9
"""A 429 cuts the rate by at least this factor."""
REFRESH_S = 60.0
"""How often a long-lived process re-reads the stored state (another process's 429)."""


@dataclass(frozen=True)
class PaceKey:
    tenant: str
    vendor: str
    method: str


@dataclass(frozen=True)
class PaceState:
    """What is remembered across runs and processes for one key."""

    regime: str
    rate_per_s: float | None
    """None: the method is not paced (only its `Retry-After` is honoured)."""
    ceiling_per_s: float | None = None
    """The rate the last 429 cut to; None while no 429 ever arrived (slow start)."""
    blocked_until: datetime | None = None
    limited_at: datetime | None = None


class PaceStore(Protocol):
    """Where learned rates live (`pipeline.rate_limits.SqlPaceStore`, or none)."""

    def load(self, key: PaceKey) -> PaceState | None: ...

    def save(self, key: PaceKey, state: PaceState, now: datetime) -> None: ...


@dataclass(frozen=True)
class PaceSpec:
    """A method's documented limit under a regime (`Regime.pace_spec`)."""

    regime: str
    rate_per_s: float | None
    burst: float = 1.0
    fixed: bool = False
    max_factor: float = 100.0
    window_s: float = 60.0

    @property
    def max_rate_per_s(self) -> float | None:
        if self.rate_per_s is None:
            return None
        return self.rate_per_s if self.fixed else self.rate_per_s * self.max_factor

    def fresh(self) -> PaceState:
        return PaceState(self.regime, self.rate_per_s)


class Pace:
    """One method's adaptive token bucket on the clock's monotonic time; thread-safe."""

    def __init__(self, spec: PaceSpec, clock: Clock, state: PaceState | None = None) -> None:
        self.spec, self.clock = spec, clock
        self.dirty = False
        self._lock = threading.Lock()
        self._accepted: deque[float] = deque()
        self._updated = self._started = clock.monotonic()
        self._tokens = spec.burst
        self._not_before = self._updated
        self._limited_at: datetime | None = None
        self._cut_already = False
        self.adopt(state or spec.fresh())

    @property
    def rate_per_s(self) -> float | None:
        return self._rate

    def acquire(self, max_wait_s: float | None = None) -> float:
        """Take one token; return the seconds to wait before sending (`BudgetSpent` past
        `max_wait_s`, taking nothing, so the run ends `throttled` rather than asleep)."""
        with self._lock:
            wait_s = max(self._token_wait(), self._not_before - self.clock.monotonic())
            if max_wait_s is not None and wait_s > max_wait_s:
                raise BudgetSpent(retry_after_s=wait_s)
            if self._rate is not None:
                self._tokens -= 1.0  # a negative balance is a reservation: waiters queue up
            return max(0.0, wait_s)

    def accepted(self) -> None:
        """The vendor took a request: remember when, and raise the rate unless fixed."""
        with self._lock:
            now = self.clock.monotonic()
            self._accepted.append(now)
            self._cut_already = False
            self._forget_before(now - self.spec.window_s)
            if self._rate is not None and not self.spec.fixed:
                self._set_rate(self._raised(self._rate))

    def limited(self, retry_after_s: float) -> None:
        """A 429: cut the rate, empty the bucket, send nothing for `retry_after_s`."""
        with self._lock:
            now = self.clock.monotonic()
            self._token_wait()
            self._not_before = max(self._not_before, now + retry_after_s)
            self._tokens = min(self._tokens, 0.0)
            self._limited_at = self.clock.now()
            if self._rate is not None and not self.spec.fixed and not self._cut_already:
                self._ceiling = self._cut(self._rate, now)
                self._set_rate(self._ceiling)
            self._cut_already = True  # the 429s of one storm (no request accepted) cut once
            self.dirty = True
        log.info("rate limited; next request in %.2fs at %s/s", retry_after_s, self._rate_text())

    def snapshot(self) -> PaceState:
        """The state to store: the learned rate and, in wall time, the end of any block."""
        with self._lock:
            ahead = self._not_before - self.clock.monotonic()
            until = self.clock.now() + timedelta(seconds=ahead) if ahead > 0 else None
            return PaceState(self.spec.regime, self._rate, self._ceiling, until, self._limited_at)

    def adopt(self, state: PaceState) -> None:
        """Start from a stored state: its rate (when learned under this regime) and its block."""
        with self._lock:
            if state.regime == self.spec.regime and self.spec.rate_per_s is not None:
                top = self.spec.max_rate_per_s or self.spec.rate_per_s
                floor = self.spec.rate_per_s * FLOOR
                if self.spec.fixed or state.rate_per_s is None:
                    self._rate, self._ceiling = self.spec.rate_per_s, None
                else:
                    self._rate = min(top, max(floor, state.rate_per_s))
                    self._ceiling = state.ceiling_per_s
            else:
                self._rate, self._ceiling = self.spec.rate_per_s, None
            self._limited_at = state.limited_at
            self._block_until(state.blocked_until)

    def _block_until(self, until: datetime | None) -> None:
        if until is not None:
            ahead = (until - self.clock.now()).total_seconds()
            self._not_before = max(self._not_before, self.clock.monotonic() + ahead)

    def _token_wait(self) -> float:
        """Refill for the time elapsed, then the seconds until one whole token is there."""
        now = self.clock.monotonic()
        if self._rate is None:
            self._updated = now
            return 0.0
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.spec.burst, self._tokens + elapsed * self._rate)
        self._updated = now
        return max(0.0, (1.0 - self._tokens) / self._rate)

    def _raised(self, rate: float) -> float:
        documented = self.spec.rate_per_s or rate
        slow_start = self._ceiling is None or rate < self._ceiling
        raised = rate * (1 + SLOW_START) if slow_start else rate + documented * ADDITIVE
        if self._ceiling is not None and rate < self._ceiling:
            raised = min(raised, self._ceiling)
        return min(raised, self.spec.max_rate_per_s or raised)

    def _cut(self, rate: float, now: float) -> float:
        """`DECREASE` × the rate, and no more than the vendor accepted over a whole window; a
        first 429 in slow start goes back to the documented rate. Never under the floor.

        The cut is gentle on purpose: a vendor whose `Retry-After` is the time to its next token
        loses no throughput to a 429 that is waited out, only to a client that sends below its
        rate, so the rate should stay near the limit rather than halve (TCP's choice)."""
        documented = self.spec.rate_per_s or rate
        self._forget_before(now - self.spec.window_s)
        cut = rate * DECREASE
        if now - self._started >= self.spec.window_s:
            cut = min(cut, max(len(self._accepted), 1) / self.spec.window_s)
        elif self._ceiling is None:
            cut = min(cut, documented)
        return max(cut, documented * FLOOR)

    def _set_rate(self, rate: float) -> None:
        self._token_wait()  # refill at the old rate up to now
        self._rate = rate
        self.dirty = True

    def _forget_before(self, cutoff: float) -> None:
        while self._accepted and self._accepted[0] < cutoff:
            self._accepted.popleft()

    def _rate_text(self) -> str:
        return "unpaced" if self._rate is None else f"{self._rate:.3g}"

    # set by adopt(); declared for type checkers
    _rate: float | None
    _ceiling: float | None

    def __repr__(self) -> str:
        return f"Pace(rate_per_s={self._rate_text()}, burst={self.spec.burst:g})"


@dataclass
class _Entry:
    pace: Pace
    synced_at: float


class Pacer:
    """One `Pace` per (tenant, vendor, method) for a process, backed by an optional store.

    A pace is loaded from the store on first use and re-read every `REFRESH_S` (so a long-lived
    scheduler sees another process's `Retry-After`); a 429 is saved at once, a rise on `flush()`
    (the engine flushes when a run ends). A store that fails is logged, never fatal: the learned
    rate is an optimisation, the 429 handling does not depend on it.
    """

    def __init__(self, store: PaceStore | None = None) -> None:
        self.store = store
        self._entries: dict[PaceKey, _Entry] = {}
        self._lock = threading.Lock()

    def scope(self, tenant: str, vendor: str, regime: Regime | None, clock: Clock) -> PaceScope:
        """The paces of one client: its tenant, vendor, regime and clock."""
        return PaceScope(self, tenant, vendor, regime, clock)

    def pace(self, key: PaceKey, spec: PaceSpec, clock: Clock) -> Pace:
        """The key's pace, made (from the store) on first use, or for a new spec or clock."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.pace.spec != spec or entry.pace.clock is not clock:
                known = entry.pace.snapshot() if entry is not None else self._load(key)
                entry = _Entry(Pace(spec, clock, known), clock.monotonic())
                self._entries[key] = entry
            elif clock.monotonic() - entry.synced_at >= REFRESH_S:
                self._refresh(key, entry)
            return entry.pace

    def limited(self, key: PaceKey, pace: Pace, retry_after_s: float) -> None:
        """Record a 429 on `pace` and store it at once, for the other processes."""
        pace.limited(retry_after_s)
        self._save(key, pace)

    def flush(self) -> None:
        """Store every pace whose rate moved since it was last stored."""
        with self._lock:
            dirty = [(k, e.pace) for k, e in self._entries.items() if e.pace.dirty]
        for key, pace in dirty:
            self._save(key, pace)

    def _refresh(self, key: PaceKey, entry: _Entry) -> None:
        """Take another process's newer 429 (its rate when lower, its block) from the store."""
        entry.synced_at = entry.pace.clock.monotonic()
        stored = self._load(key)
        mine = entry.pace.snapshot()
        if stored is None or stored.limited_at is None:
            return
        if mine.limited_at is None or stored.limited_at > mine.limited_at:
            lower = min(stored.rate_per_s or 0.0, mine.rate_per_s or 0.0) or stored.rate_per_s
            entry.pace.adopt(replace(stored, rate_per_s=lower))

    def _load(self, key: PaceKey) -> PaceState | None:
        if self.store is None:
            return None
        try:
            return self.store.load(key)
        except Exception as exc:  # noqa: BLE001  a lost database must not fail the vendor call
            log.warning("could not read the learned rate of %s: %s", key.method, exc)
            return None

    def _save(self, key: PaceKey, pace: Pace) -> None:
        pace.dirty = False
        if self.store is None:
            return
        try:
            self.store.save(key, pace.snapshot(), pace.clock.now())
        except Exception as exc:  # noqa: BLE001  (see the class docstring)
            pace.dirty = True
            log.warning("could not store the learned rate of %s: %s", key.method, exc)


@dataclass
class PaceScope:
    """A `Pacer` seen by one client: `get(method)` is that method's pace for this tenant."""

    pacer: Pacer
    tenant: str
    vendor: str
    regime: Regime | None
    clock: Clock

    def get(self, method: str) -> Pace:
        key = PaceKey(self.tenant, self.vendor, method)
        return self.pacer.pace(key, self._spec(method), self.clock)

    def limited(self, method: str, retry_after_s: float) -> None:
        key = PaceKey(self.tenant, self.vendor, method)
        self.pacer.limited(key, self.get(method), retry_after_s)

    def _spec(self, method: str) -> PaceSpec:
        if self.regime is None:
            return PaceSpec("", None)
        return self.regime.pace_spec(method)
