"""When to retry a failed request, and how long to wait first (DESIGN §6, vendors.md §1.6).

`RetryPolicy.decide` is a pure decision on (error, attempt) in the style of procrastinate's
`get_retry_decision`: the client sleeps, the policy only does arithmetic, so the wait table is
tested without a clock. Jitter comes from an injectable `random.Random`, so tests are
deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pipeline.errors import RateLimitedError, TransientError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for transient failures; `Retry-After` for rate limits.

    With the defaults, a 5xx/timeout waits 0.5, 1, 2, 4 s (each plus up to 10 % jitter) and the
    fifth failed attempt gives up. A 429 waits its `Retry-After` (plus jitter), or
    `rate_limit_fallback_s` when the header is absent or 0, as Airbyte's sources do.
    `cap_s` bounds the backoff only; a vendor's `Retry-After` is honoured whatever its size
    (the client decides whether to wait that long or end the run `throttled`).
    """

    max_attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0
    jitter: float = 0.1
    rate_limit_fallback_s: float = 5.0
    rate_limit_backoff: bool = False
    """Without `Retry-After`, double the fallback on each attempt (e.g. 60 s, 120 s, …)."""
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is a fraction between 0 and 1")
        if min(self.base_s, self.cap_s, self.rate_limit_fallback_s) < 0:
            raise ValueError("waits cannot be negative")

    def decide(self, error: BaseException, attempt: int) -> float | None:
        """Seconds to wait before retrying after failed attempt number `attempt` (from 1), or None.

        None means give up: the attempts are used up, or the error is not worth retrying
        (anything but a `TransientError`: auth, access, bad request, a bug).
        """
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, RateLimitedError):
            if error.retry_after_s:
                return self._jittered(error.retry_after_s)
            growth = 2 ** min(attempt - 1, 16) if self.rate_limit_backoff else 1
            return self._jittered(self.rate_limit_fallback_s * growth)
        if isinstance(error, TransientError):
            return self._jittered(self.backoff_s(attempt))
        return None

    def backoff_s(self, attempt: int) -> float:
        """The un-jittered backoff after failed attempt `attempt`: base · 2^(attempt-1), capped."""
        return float(min(self.cap_s, self.base_s * 2 ** min(attempt - 1, 64)))

    def _jittered(self, seconds: float) -> float:
        """Add up to `jitter` of `seconds` on top, so clients that failed together spread out."""
        return seconds * (1.0 + self.jitter * self.rng.random())
