"""Rate-limit regimes and page-size rules, counted against the sandbox's fake clock.

Slack limits per method, per workspace, per app (vendors.md §1.6). Each (method, key) gets a token
bucket holding one minute's allowance (short bursts are tolerated; `burst` makes it smaller) that
refills continuously; an empty bucket answers HTTP 429 with `Retry-After: <int seconds>` (§1.6,
§6.2.11). The 2025 non-Marketplace regime cuts history and replies to 1 request/min with default
and max `limit` 15.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

TIER_PER_MIN = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}
METHOD_TIER = {
    "conversations.list": 2,
    "conversations.history": 3,
    "conversations.replies": 3,
    "users.list": 2,
    "auth.test": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "reactions.add": 3,
    "reactions.remove": 2,
    "conversations.archive": 2,
}
SPECIAL_PER_MIN = {"chat.postMessage": 60.0}  # "about 1 per second per channel" (§1.6)
# (default, max) page sizes; larger requests are clamped (§1.1: history "under 1000", max 999)
PAGE_LIMITS = {
    "conversations.history": (100, 999),
    "conversations.replies": (1000, 1000),
    "conversations.list": (100, 999),
    "users.list": (0, 1000),
}
REGIMES = ("tier3", "non_marketplace", "unlimited")
ALIASES = {"internal": "tier3", "marketplace": "tier3", "non_marketplace_2025": "non_marketplace"}
NON_MARKETPLACE_METHODS = ("conversations.history", "conversations.replies")


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per (method, key) for one regime; `check` returns a Retry-After or None."""

    def __init__(self, regime: str = "tier3", burst: float | None = None) -> None:
        self.regime = regime
        self.burst = burst
        """Bucket size; None: one minute's allowance (the benchmark's Tier 3 profile uses 10)."""
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._lock = threading.Lock()

    @property
    def regime(self) -> str:
        return self._regime

    @regime.setter
    def regime(self, value: str) -> None:
        value = ALIASES.get(value, value)
        if value not in REGIMES:
            raise ValueError(f"unknown regime {value!r}; known: {', '.join(REGIMES)}")
        self._regime = value
        self._buckets = {}

    def per_minute(self, method: str) -> float | None:
        """Allowed requests per minute for `method` under this regime (None: unlimited)."""
        if self._regime == "unlimited":
            return None
        if self._regime == "non_marketplace" and method in NON_MARKETPLACE_METHODS:
            return 1.0  # §1.6: "1 request per minute" since 2025
        if method in SPECIAL_PER_MIN:
            return SPECIAL_PER_MIN[method]
        return TIER_PER_MIN[METHOD_TIER.get(method, 3)]

    def page_limit(self, method: str, requested: int | None) -> int:
        """The page size the server will use: the default when absent, clamped to the max."""
        default, maximum = PAGE_LIMITS.get(method, (100, 1000))
        if self._regime == "non_marketplace" and method in NON_MARKETPLACE_METHODS:
            default = maximum = 15  # §1.6: "both the default and the maximum limit become 15"
        if requested is None or requested <= 0:
            return default
        return min(requested, maximum)

    def check(self, method: str, key: str, now: float) -> int | None:
        """Spend one request; None if allowed, else the whole seconds to wait (≥ 1)."""
        rate = self.per_minute(method)
        if rate is None:
            return None
        per_s, size = rate / 60.0, min(rate, self.burst or rate)
        with self._lock:
            bucket = self._buckets.setdefault((method, key), Bucket(tokens=size, updated=now))
            bucket.tokens = min(size, bucket.tokens + max(now - bucket.updated, 0.0) * per_s)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / per_s - 1e-9))
