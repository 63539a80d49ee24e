"""The sandbox's time: one clock drives timestamps, rate-limit windows and reset epochs (§6.1.2).

Hand it the engine's `FakeClock` and a client that "sleeps" on a limit advances the sandbox too;
nothing here ever sleeps. ISO-8601 helpers speak GitHub's `YYYY-MM-DDTHH:MM:SSZ` (vendors.md §4.1).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from pipeline.testing import FakeClock

DEFAULT_NOW = 1767225600.0  # 2026-01-01T00:00:00Z, the start of pipeline's FakeClock


@runtime_checkable
class Advancing(Protocol):
    """A clock the sandbox can both read and move (pipeline.FakeClock fits)."""

    def now(self) -> datetime: ...

    def advance(self, seconds: float) -> None: ...


ClockLike = Advancing | Callable[[], object]


class SandboxClock:
    """Epoch seconds from a shared clock (a `FakeClock`, a callable, or real time from a start)."""

    def __init__(self, source: ClockLike | None = None) -> None:
        self.fake: FakeClock | None = source if isinstance(source, FakeClock) else None
        if source is None:
            self.fake = FakeClock(datetime.fromtimestamp(DEFAULT_NOW, UTC))
        self._source = source
        self._offset = 0.0

    @classmethod
    def real_time(cls, start: float = DEFAULT_NOW) -> SandboxClock:
        """Time that flows from `start` at wall speed (`serve`: rate windows refill by themselves)."""
        began = time.monotonic()
        return cls(lambda: start + time.monotonic() - began)

    def now(self) -> float:
        return self._read() + self._offset

    def _read(self) -> float:
        if self.fake is not None:
            return self.fake.now().timestamp()
        source = self._source
        reading = source.now() if isinstance(source, Advancing) else source() if source else 0.0
        return reading.timestamp() if isinstance(reading, datetime) else float(str(reading))

    def advance(self, seconds: float) -> None:
        """Move time forward; a shared `FakeClock` (or any advancing clock) moves for the client too."""
        if self.fake is not None:
            self.fake.advance(seconds)
        elif isinstance(self._source, Advancing):
            self._source.advance(seconds)
        else:
            self._offset += seconds

    def set(self, epoch: float) -> None:
        self.advance(float(epoch) - self.now())


def iso(epoch: float | None) -> str | None:
    """Epoch seconds → GitHub's "2026-01-01T00:00:00Z" (whole seconds), None stays None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """GitHub's ISO-8601 (`Z`, an offset, or fractions) → epoch seconds; ValueError otherwise."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def http_date(epoch: float) -> str:
    """The `Last-Modified` format: "Thu, 01 Jan 2026 00:00:00 GMT"."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
