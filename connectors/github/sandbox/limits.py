"""GitHub's primary and secondary rate limits, counted on the sandbox's clock (§4.1, §6.3.4-5).

Primary: per token, `limit` requests per hour-long window that starts with the window's first
request; every answer carries `x-ratelimit-{limit,remaining,used,reset,resource}`; a 304 costs
nothing; an exhausted budget answers 403 (or 429) with `remaining: 0`. Secondary: per token,
points per minute (GET 1, writes 5) and a cap on concurrent requests; the answer is 403 (or 429)
with `retry-after`, or without it when `retry_after` is switched off, as GitHub sometimes does.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class LimitSettings:
    """The knobs, settable at runtime (`Sandbox.set_limits`, `POST /_sandbox/limits`)."""

    primary_limit: int = 5000  # a PAT's 5,000/h
    primary_status: int = 403  # or 429
    window_s: int = 3600
    secondary_points: int = 900  # REST points per minute
    secondary_status: int = 403  # or 429
    secondary_retry_after: bool = True  # False: no retry-after header (hub4j/github-api#1805)
    concurrency: int = 100

    def update(self, **changes: Any) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown limit setting(s): {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self, name, _coerce(getattr(self, name), value))
        for status in (self.primary_status, self.secondary_status):
            if status not in (403, 429):
                raise ValueError(f"a rate-limit status is 403 or 429, not {status}")


@dataclass
class Window:
    used: int = 0
    reset: float = 0.0  # epoch seconds; 0 = no window open yet


@dataclass
class Limits:
    """Both limits for every token; thread-safe."""

    settings: LimitSettings = field(default_factory=LimitSettings)
    _primary: dict[str, Window] = field(default_factory=dict)
    _secondary: dict[str, Window] = field(default_factory=dict)
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _window(self, table: dict[str, Window], key: str, now: float, length_s: float) -> Window:
        window = table.setdefault(key, Window())
        if now >= window.reset:
            window.used, window.reset = 0, float(math.ceil(now + length_s))
        return window

    def primary_exhausted(self, key: str, now: float) -> bool:
        with self._lock:
            window = self._window(self._primary, key, now, self.settings.window_s)
            return window.used >= self.settings.primary_limit

    def exhaust(self, key: str, now: float) -> None:
        """Use up the current primary window (a forced limit: `Faults.primary`)."""
        with self._lock:
            window = self._window(self._primary, key, now, self.settings.window_s)
            window.used = max(window.used, self.settings.primary_limit)

    def spend(self, key: str, now: float) -> None:
        """Count one request against the primary limit (not called for a 304)."""
        with self._lock:
            self._window(self._primary, key, now, self.settings.window_s).used += 1

    def headers(self, key: str, now: float) -> list[tuple[str, str]]:
        with self._lock:
            window = self._window(self._primary, key, now, self.settings.window_s)
            limit = self.settings.primary_limit
            return [
                ("x-ratelimit-limit", str(limit)),
                ("x-ratelimit-remaining", str(max(limit - window.used, 0))),
                ("x-ratelimit-used", str(window.used)),
                ("x-ratelimit-reset", str(int(window.reset))),
                ("x-ratelimit-resource", "core"),
            ]

    def core(self, key: str, now: float) -> dict[str, int]:
        """The `GET /rate_limit` view of the primary limit."""
        values = {
            name.removeprefix("x-ratelimit-"): value for name, value in self.headers(key, now)
        }
        return {k: int(v) for k, v in values.items() if k != "resource"}

    def secondary_wait(self, key: str, now: float, cost: int) -> int | None:
        """Spend `cost` points; None if allowed, else the whole seconds until the minute ends."""
        with self._lock:
            window = self._window(self._secondary, key, now, 60)
            if self._in_flight > self.settings.concurrency:
                return 60
            if window.used + cost > self.settings.secondary_points:
                return max(1, math.ceil(window.reset - now))
            window.used += cost
            return None

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _coerce(current: object, value: object) -> object:
    """Form bodies send strings: "false" is False, "429" is 429."""
    if isinstance(current, bool):
        return (
            value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        )
    return int(str(value))
