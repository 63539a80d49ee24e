"""`pipeline schedule`: fire each configured subscription on its trigger (engine.md §1.4).

APScheduler 3.11 is only the trigger; the database lease (with its fencing token) is what keeps
two processes, on one host or many, from running one subscription at the same time. Missed
triggers coalesce into one run; a `throttled` run is retried as soon as the vendor allows.
SIGTERM/SIGINT: stop taking work, let running subscriptions commit their current page, release
their leases, exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from pipeline.config import PipelineConfig, SubscriptionConfig
from pipeline.errors import PipelineError
from pipeline.fair_share import TenantShares
from pipeline.http.clock import Clock, SystemClock
from pipeline.ledger import Run
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.registry import get_stream

log = logging.getLogger("pipeline.schedule")
DEFAULT_INTERVAL_S = 300.0


def trigger_for(sub: SubscriptionConfig) -> BaseTrigger:
    """Cron when `schedule` is given, else the interval (default 5 minutes)."""
    if sub.schedule:
        return CronTrigger.from_crontab(sub.schedule, timezone="UTC")
    return IntervalTrigger(seconds=sub.interval_s or DEFAULT_INTERVAL_S, timezone="UTC")


def job_id(sub: SubscriptionConfig) -> str:
    return sub.subscription().id


class Scheduler:
    """Runs the enabled subscriptions of a config on their triggers until stopped."""

    def __init__(
        self,
        engine: Engine,
        config: PipelineConfig,
        clock: Clock | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.engine, self.config = engine, config
        self.orchestrator = Orchestrator(engine, clock or SystemClock())
        self.settings = settings or {}
        self.stopping = threading.Event()
        self.buckets: dict[
            str, dict[str, Any]
        ] = {}  # per tenant: one rate budget per vendor method
        enabled = [sub for sub in config.subscriptions if sub.enabled]
        self.shares = TenantShares(config.workers, len({sub.tenant for sub in enabled}))
        self.by_key = {job_id(sub): sub for sub in enabled}
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(config.workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )

    def start(self) -> None:
        for sub in self.config.subscriptions:
            if sub.enabled:
                self.scheduler.add_job(
                    self.run_once,
                    trigger_for(sub),
                    args=[sub],
                    id=job_id(sub),
                    name=f"{sub.stream}/{sub.tenant}/{sub.name}",
                    next_run_time=datetime.now().astimezone(),
                )
        self.scheduler.start()
        log.info("scheduling %d subscriptions", len(self.scheduler.get_jobs()))

    def run_once(self, sub: SubscriptionConfig, *, handed: bool = False) -> Run | None:
        """One run, unless its tenant holds its whole share of workers: then it queues for the
        tenant's next free slot, which is handed to it (`handed=True`) without taking a worker."""
        key = job_id(sub)
        if handed:
            self.shares.take_handed(key)
        elif not self.shares.acquire(sub.tenant, key):
            log.debug("%s/%s: tenant holds its share of workers; queued", sub.stream, sub.tenant)
            return None
        try:
            return None if self.stopping.is_set() else self._run(sub)
        except PipelineError as exc:  # e.g. a token variable unset since start: one line, no run
            log.error("%s/%s: %s", sub.stream, sub.tenant, exc)
            return None
        finally:
            self._hand_over(sub.tenant)

    def _hand_over(self, tenant: str) -> None:
        """Free the tenant's slot, or start its oldest queued run on it right away."""
        key = self.shares.release(tenant)
        if key is None:
            return
        sub = self.by_key[key]
        if self.stopping.is_set():  # nothing starts any more: pass the slot down the queue
            self.shares.take_handed(key)
            self._hand_over(tenant)
            return
        try:
            self.scheduler.add_job(
                self.run_once,
                "date",
                run_date=datetime.now().astimezone(),
                args=[sub],
                kwargs={"handed": True},
                id=f"{key}:handed",
                replace_existing=True,
            )
        except SchedulerNotRunningError:  # shut down meanwhile
            self.shares.take_handed(key)
            self._hand_over(tenant)

    def _run(self, sub: SubscriptionConfig) -> Run:
        """One run of a subscription; a throttled run asks to be retried when the vendor allows."""
        settings = {**self.settings, "buckets": self.buckets.setdefault(sub.tenant, {})}
        options = RunOptions(
            lease_ttl_s=self.config.lease_ttl_s, settings=settings, should_stop=self.stopping.is_set
        )
        run = self.orchestrator.run(get_stream(sub.stream), sub.subscription(), options=options)
        log.log(
            logging.WARNING if run.status in ("failed", "lost_lease") else logging.INFO,
            run_line(f"{sub.stream}/{sub.tenant}", run),
        )
        if run.status == "throttled" and not self.stopping.is_set():
            self.retry_later(sub, run.retry_after_s or 60.0)
        return run

    def retry_later(self, sub: SubscriptionConfig, seconds: float) -> None:
        when = datetime.now().astimezone() + timedelta(seconds=seconds)
        self.scheduler.add_job(
            self.run_once,
            "date",
            run_date=when,
            args=[sub],
            id=f"{job_id(sub)}:retry",
            replace_existing=True,
        )

    def stop(self) -> None:
        """Stop taking work; running subscriptions stop after their current page."""
        self.stopping.set()
        self.scheduler.shutdown(wait=True)

    def serve_forever(self) -> None:
        """Block until SIGTERM or SIGINT, then stop cleanly."""
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        self.start()
        while not done.wait(1.0):
            pass
        log.info("stopping: finishing current pages and releasing leases")
        self.stop()


def run_line(label: str, run: Run) -> str:
    """`acme-tickets/acme success +12 ~3 -0 in 4.2s` (and the error, if any)."""
    seconds = (run.duration_ms or 0) / 1000
    line = f"{label} {run.status} +{run.created} ~{run.updated} -{run.deleted} in {seconds:.1f}s"
    return f"{line}: {run.error}" if run.error else line


def next_run_times(config: PipelineConfig, now: datetime) -> dict[str, datetime | None]:
    """When each enabled subscription fires next (for `pipeline runs`)."""
    return {
        job_id(sub): trigger_for(sub).get_next_fire_time(None, now) if sub.enabled else None
        for sub in config.subscriptions
    }
