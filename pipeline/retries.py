"""Run health (DESIGN §9): when a subscription is due again after a run, and with what error.

Success: the next fire time of its trigger. A failure: retried after an exponential backoff with
jitter, counted in `attempt`. Auth, config and validation errors are not retried (a retry cannot
fix them): the subscription waits for its next regular fire time and `subscriptions list` says
"not retried". A `throttled` run is due when the vendor allows; a stopped one (shutdown, maximum
duration) is due at once and resumes from its last committed page, possibly in another process.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.errors import AccessLostError, AuthError, ConfigError, StoppedError
from pipeline.triggers import backoff_s, next_due

NOT_RETRIED: tuple[type[BaseException], ...] = (AuthError, AccessLostError, ConfigError)
NOT_RETRIED_PREFIX = "not retried: "
DEFAULT_THROTTLE_S = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of failed runs: `base_s * 2^(attempt-1)`, capped at `cap_s`, with equal jitter."""

    base_s: float = 30.0
    cap_s: float = 1800.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def delay_s(self, attempt: int) -> float:
        return backoff_s(attempt, self.base_s, self.cap_s, self.jitter)


@dataclass(frozen=True)
class Due:
    """What the scheduler knew about a subscription when it claimed it."""

    interval_s: float | None
    schedule: str | None
    due_at: datetime | None
    attempt: int


def next_state(
    due: Due,
    status: str,
    ended_by: BaseException | None,
    now: datetime,
    policy: RetryPolicy,
    retry_after_s: float | None = None,
    error: str | None = None,
) -> dict[str, Any] | None:
    """The subscription's new `next_run_at`, `attempt` and `last_error`; None after `lost_lease`
    (the run that took the lease over reschedules it)."""
    if status == "lost_lease":
        return None
    if isinstance(ended_by, StoppedError):
        return {"next_run_at": now}
    if status == "throttled":
        wait_s = retry_after_s if retry_after_s is not None else DEFAULT_THROTTLE_S
        return {
            "next_run_at": now + timedelta(seconds=wait_s),
            "last_error": f"throttled; due again in {wait_s:g}s",
        }
    regular = next_due(due.interval_s, due.schedule, due.due_at, now)
    if status != "failed":
        return {
            "next_run_at": regular,
            "attempt": 0,
            "last_error": error if status == "partial" else None,
        }
    attempt = due.attempt + 1
    if isinstance(ended_by, NOT_RETRIED):
        return {
            "next_run_at": regular,
            "attempt": attempt,
            "last_error": f"{NOT_RETRIED_PREFIX}{error}",
        }
    delay_s = policy.delay_s(attempt)
    return {
        "next_run_at": now + timedelta(seconds=delay_s),
        "attempt": attempt,
        "last_error": error,
    }
