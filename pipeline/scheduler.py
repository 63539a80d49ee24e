"""`pipeline schedule`: claim due subscriptions from the database and run them (DESIGN §9).

Any number of processes share one database. Each loops: sweep interrupted runs, claim as many due
subscriptions as it has free workers (claims.py; never more than a tenant's fair share), run them
on a thread pool, and sleep until the next one is due, a worker frees up, or (PostgreSQL) a
`NOTIFY` says a subscription was added, resumed or enqueued. A claim never collides, so the
ledger holds real runs only; the lease and its fencing token still guard every page.
SIGTERM/SIGINT: stop claiming, let running subscriptions commit their current page (they are due
again at once, for any process), release their leases, exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.claims import Claim, claim_due, next_due_at, reschedule, tenant_count
from pipeline.config import PipelineConfig
from pipeline.consumer import consumer_lags
from pipeline.errors import PipelineError, redact
from pipeline.fair_share import TenantShares
from pipeline.http.clock import Clock, SystemClock
from pipeline.leases import new_owner
from pipeline.ledger import Run
from pipeline.metrics import CONSUMER_LAG, observe_run
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.ports import ChangeSource, Sink, SinkFactory
from pipeline.registry import default_sink_factory, get_stream
from pipeline.retries import RetryPolicy, next_state
from pipeline.subscription_store import WAKE_CHANNEL
from pipeline.subscriptions import Subscription
from pipeline.sweeper import sweep_interrupted
from pipeline.triggers import next_due

log = logging.getLogger("pipeline.schedule")
SourceFor = Callable[[Subscription], ChangeSource | None]


@dataclass(frozen=True)
class ScheduleSettings:
    """The knobs of `pipeline schedule` (pipeline.toml top-level keys)."""

    workers: int = 8
    lease_ttl_s: float = 60.0
    poll_interval_s: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_run_s: float | None = None

    @classmethod
    def from_config(cls, config: PipelineConfig | None) -> ScheduleSettings:
        if config is None:
            return cls()
        return cls(
            workers=config.workers,
            lease_ttl_s=config.lease_ttl_s,
            poll_interval_s=config.poll_interval_s,
            retry=RetryPolicy(config.retry_base_s, config.retry_cap_s),
            max_run_s=config.max_run_s,
        )


class Scheduler:
    """Claims and runs due subscriptions until stopped; `run_due` does one round inline."""

    def __init__(
        self,
        engine: Engine,
        settings: ScheduleSettings | None = None,
        clock: Clock | None = None,
        source_settings: dict[str, Any] | None = None,
        source_for: SourceFor | None = None,
    ) -> None:
        self.engine, self.settings = engine, settings or ScheduleSettings()
        self.clock = clock or SystemClock()
        self.orchestrator = Orchestrator(engine, self.clock, sinks=CachedSinks())
        self.source_settings = source_settings or {}
        self.source_for = source_for
        self.owner = new_owner()
        self.shares = TenantShares(self.settings.workers, tenant_count(engine))
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._maintained_at: float | None = None

    # -- one round ------------------------------------------------------------------------------

    def claim(self, slots: int) -> list[Claim]:
        """Claim up to `slots` due subscriptions and take their tenants' slots."""
        claims = claim_due(
            self.engine,
            self.clock.now(),
            slots,
            self.settings.lease_ttl_s,
            self.shares.room,
            self.shares.full(),
        )
        for claim in claims:
            self.shares.acquire(claim.tenant)
        return claims

    def run_due(self, slots: int | None = None) -> list[Run | None]:
        """Claim what is due now and run it in this thread (tests, the bench)."""
        self.maintain()
        return [self.execute(claim) for claim in self.claim(slots or self.settings.workers)]

    def execute(self, claim: Claim) -> Run | None:
        """Run one claimed subscription; reschedule it; free its tenant's slot."""
        try:
            return self._run(claim)
        finally:
            self.shares.release(claim.tenant)

    def _run(self, claim: Claim) -> Run | None:
        sub = claim.sub
        stream = get_stream(sub.stream_name)
        rescheduled: list[bool] = []

        def on_finish(run: Run, ended_by: BaseException | None) -> None:
            rescheduled.append(True)
            self._reschedule(claim, run.status, ended_by, run.retry_after_s, run.error)

        options = self._options(claim, on_finish)
        try:
            source = self.source_for(sub) if self.source_for else None
            run = self.orchestrator.run(stream, sub, source, options)
        except Exception as exc:  # noqa: BLE001  bad config, missing token, database fault
            message = redact(str(exc) or type(exc).__name__)
            log.error("%s/%s: %s", sub.stream_name, sub.tenant_id, message)
            self._reschedule(claim, "failed", exc, None, message)
            return None
        if not rescheduled:  # a collision (the lease was taken meanwhile): no row, no reschedule
            log.debug("%s/%s: lease held elsewhere", sub.stream_name, sub.tenant_id)
            return None
        observe_run(sub.stream_name, sub.connector, run)
        log.log(
            logging.WARNING if run.status in ("failed", "lost_lease") else logging.INFO,
            run_line(f"{sub.stream_name}/{sub.tenant_id}", run),
        )
        return run

    def _options(
        self, claim: Claim, on_finish: Callable[[Run, BaseException | None], None]
    ) -> RunOptions:
        return RunOptions(
            lease_ttl_s=self.settings.lease_ttl_s,
            owner=self.owner,
            settings=self.source_settings,  # pacing per tenant: the orchestrator's Pacer
            should_stop=self._stop_check(),
            attempt=claim.due.attempt + 1,
            record_skipped=False,
            on_finish=on_finish,
        )

    def _stop_check(self) -> Callable[[], bool | str]:
        started, limit = self.clock.monotonic(), self.settings.max_run_s

        def should_stop() -> bool | str:
            if self.stopping.is_set():
                return True
            if limit is not None and self.clock.monotonic() - started >= limit:
                return f"at its maximum duration ({limit:g}s)"
            return False

        return should_stop

    def _reschedule(
        self,
        claim: Claim,
        status: str,
        ended_by: BaseException | None,
        retry_after_s: float | None,
        error: str | None,
    ) -> None:
        now = self.clock.now()
        values = next_state(
            claim.due, status, ended_by, now, self.settings.retry, retry_after_s, error
        )
        if values is not None:
            reschedule(self.engine, claim.sub.id, values, now)

    def maintain(self, force: bool = False) -> None:
        """Every TTL/2: close interrupted runs, recount tenants, refresh the consumer-lag gauge."""
        at = self.clock.monotonic()
        if (
            not force
            and self._maintained_at is not None
            and at - self._maintained_at < self.settings.lease_ttl_s / 2
        ):
            return
        self._maintained_at = at
        closed = sweep_interrupted(self.engine, self.clock.now())
        if closed:
            log.warning("closed %d interrupted run(s) whose holder is gone", closed)
        self.shares.set_tenants(tenant_count(self.engine))
        for lag in consumer_lags(self.engine, self.clock.now()):
            CONSUMER_LAG.labels(consumer=lag.consumer).set(lag.unread)

    # -- the long-running loop -------------------------------------------------------------------

    def serve_forever(self, done: threading.Event | None = None) -> None:
        """Claim and run until SIGTERM/SIGINT (or `done`), then stop cleanly."""
        done = done or _signalled(self.wake)
        listener = self._listen(done)
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="run") as pool:
            while not done.is_set():
                try:
                    self.maintain()
                    wait_s = self._tick(pool)
                except PipelineError as exc:
                    log.error("scheduling round failed: %s", exc)
                    wait_s = self.settings.poll_interval_s
                self.wake.wait(wait_s)
                self.wake.clear()
            log.info("stopping: finishing current pages and releasing leases")
            self.stopping.set()
        if listener is not None:
            listener.join()

    def _tick(self, pool: ThreadPoolExecutor) -> float:
        """Claim for the free workers; how long to sleep before the next round."""
        with self._lock:
            free = self.settings.workers - self._in_flight
        claims = self.claim(free)
        for claim in claims:
            with self._lock:
                self._in_flight += 1
            pool.submit(self._work, claim)
        if claims and len(claims) == free:
            return 0.0  # every worker got one: more may be due
        return self._idle_s()

    def _work(self, claim: Claim) -> None:
        try:
            self.execute(claim)
        except Exception:  # a bug must not kill the worker thread silently
            log.exception("run of %s crashed", claim.sub.id)
        finally:
            with self._lock:
                self._in_flight -= 1
            self.wake.set()

    def _idle_s(self) -> float:
        """Until the next subscription is due, at most one poll interval."""
        poll_s = self.settings.poll_interval_s
        upcoming = next_due_at(self.engine)
        if upcoming is None:
            return poll_s
        wait_s = (upcoming - self.clock.now()).total_seconds()
        return poll_s if wait_s <= 0 else min(poll_s, wait_s)

    def _listen(self, done: threading.Event) -> threading.Thread | None:
        """PostgreSQL: a thread that sets `wake` on each NOTIFY of the subscriptions channel."""
        if self.engine.dialect.name != "postgresql":
            return None
        from pipeline.consumer_wake import Listener

        listener = Listener(self.engine, WAKE_CHANNEL)

        def relay() -> None:
            try:
                while not done.is_set():
                    if listener.wait(0.5):
                        self.wake.set()
            finally:
                listener.close()

        thread = threading.Thread(target=relay, name="schedule-listen", daemon=True)
        thread.start()
        return thread


class CachedSinks:
    """One sink per (table, tenant, provider), kept across runs: building a sink prepares its
    statements, which costs more than a small run's page (bench/schedule.py)."""

    def __init__(self, factory: SinkFactory | None = None, size: int = 4096) -> None:
        self.factory = factory or default_sink_factory()
        self.size = size
        self._sinks: OrderedDict[tuple[str, str, str], Sink] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, table: sa.Table, tenant_id: str, provider: str) -> Sink:
        key = (table.name, tenant_id, provider)
        with self._lock:
            sink = self._sinks.pop(key, None) or self.factory(table, tenant_id, provider)
            self._sinks[key] = sink  # most recently used last
            if len(self._sinks) > self.size:
                self._sinks.popitem(last=False)
            return sink


def _signalled(wake: threading.Event) -> threading.Event:
    done = threading.Event()

    def stop(*_: object) -> None:
        done.set()
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    return done


def run_line(label: str, run: Run) -> str:
    """`acme-tickets/acme success +12 ~3 -0 in 4.2s` (and the error, if any)."""
    seconds = (run.duration_ms or 0) / 1000
    line = f"{label} {run.status} +{run.created} ~{run.updated} -{run.deleted} in {seconds:.1f}s"
    return f"{line}: {run.error}" if run.error else line


def next_run_times(config: PipelineConfig, now: datetime) -> dict[str, datetime | None]:
    """When each subscription declared in pipeline.toml fires next (for `pipeline runs`)."""
    return {
        sub.subscription().id: next_due(sub.interval_s, sub.schedule, None, now)
        if sub.enabled
        else None
        for sub in config.subscriptions
    }
