"""When a subscription is due next (DESIGN §9): its trigger, and the backoff after a failure.

APScheduler 3.11 only computes fire times here (engine.md §1.4): the due time itself lives in
`integration_subscriptions.next_run_at`, which `pipeline schedule` processes claim.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pipeline.errors import ConfigError

DEFAULT_INTERVAL_S = 300.0


def check_cron(expression: str) -> str:
    """The 5-field cron expression, or `ConfigError` saying what is wrong with it."""
    try:
        CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        raise ConfigError(
            f"schedule {expression!r} is not a 5-field cron expression: {exc}"
        ) from None
    return expression


def trigger_for(
    interval_s: float | None, schedule: str | None, start: datetime | None = None
) -> BaseTrigger:
    """Cron when `schedule` is given, else the interval (default 5 minutes) counted from `start`."""
    if schedule:
        return CronTrigger.from_crontab(schedule, timezone=UTC)
    return IntervalTrigger(seconds=interval_s or DEFAULT_INTERVAL_S, start_date=start, timezone=UTC)


def next_due(
    interval_s: float | None, schedule: str | None, due_at: datetime | None, now: datetime
) -> datetime:
    """The first fire time after `now`; an interval keeps its grid from the last due time, and
    fire times missed while a run was long coalesce into this one."""
    trigger = trigger_for(interval_s, schedule, due_at or now)
    fire: datetime | None = trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
    if fire is None:  # a cron that never fires again (none of ours): park it far away
        return now + timedelta(days=365)
    return fire.astimezone(UTC)


def backoff_s(
    attempt: int, base_s: float, cap_s: float, jitter: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with equal jitter: between half and all of `min(cap, base * 2^(n-1))`."""
    ceiling = min(cap_s, base_s * 2.0 ** max(attempt - 1, 0))
    return float(ceiling / 2 + ceiling / 2 * jitter())
