"""The orchestrator: runs a subscription page by page, each page in one transaction (DESIGN §4).

    run_subscription → acquire lease → for each page: apply_page → finish run → release lease
    apply_page       = check_fence → read_existing → classify → diff → upsert/tombstone
                       → record_items → emit_events → advance_checkpoint      (one transaction)

Pages are fetched from the vendor outside any transaction. A crash anywhere leaves the whole page or
none of it; a re-run resumes from the last committed checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from pipeline.changes import Change, Page, Sweep
from pipeline.classify import Classifier, Plan
from pipeline.db import as_utc, error_line, write_transaction
from pipeline.errors import (
    BudgetSpent,
    GuardError,
    PipelineError,
    StoppedError,
    redact,
    run_status_for,
)
from pipeline.gcpause import gc_paused
from pipeline.heartbeat import Heartbeat, LeaseWatch
from pipeline.http.clock import Clock, SystemClock
from pipeline.http.pacing import Pacer
from pipeline.leases import Lease, LeaseStore, new_owner
from pipeline.ledger import CALL_COUNTERS, Run, SqlLedger
from pipeline.outbox import OutboxWriter
from pipeline.ports import ChangeSource, Sink, SinkFactory
from pipeline.prefetch import Prefetcher, fetches_inside
from pipeline.rate_limits import SqlPaceStore
from pipeline.registry import SourceContext, Stream, default_sink_factory
from pipeline.scopes import report_unreadable
from pipeline.subscriptions import SqlCheckpoints, Subscription, ensure_subscription

log = logging.getLogger("pipeline.run")

PageHook = Callable[[Run], None]
StepHook = Callable[[str, int], None]
"""Called at each step boundary of a page transaction with the step's name and the page number
(crash-injection tests kill the process there)."""

STEPS = (
    "fetched",
    "check_fence",
    "read_existing",
    "classify",
    "write",
    "record_items",
    "emit_events",
    "advance_checkpoint",
    "committed",
)


@dataclass
class RunOptions:
    """Per-run knobs: lease TTL, owner name, settings for the source, progress hook."""

    lease_ttl_s: float = 120.0
    owner: str | None = None
    settings: dict[str, Any] | None = None
    on_page: PageHook | None = None
    on_wait: Callable[[float, str], None] | None = None
    on_step: StepHook | None = None
    heartbeat_s: float | None = None
    should_stop: Callable[[], bool | str] | None = None
    """Asked before each page; truthy stops the run there (a string says why)."""
    full_refresh: bool = False
    attempt: int = 1
    record_skipped: bool = True
    """False (`pipeline schedule`): a lease collision writes no `skipped` run row."""
    on_finish: Callable[[Run, BaseException | None], None] | None = None
    """Called with the finished run and what ended it, before the lease is released."""
    prefetch: bool = True
    """Fetch page N+1 on a background thread while page N commits (`pipeline/prefetch.py`)."""


class Orchestrator:
    """Wires the ports together for one database; `run` executes one subscription once."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        notify: bool = True,
        sinks: SinkFactory | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.sinks = sinks or default_sink_factory()
        self.ledger = SqlLedger(engine)
        self.leases = LeaseStore(engine)
        self.checkpoints = SqlCheckpoints()
        self.outbox = OutboxWriter(notify=notify)
        self.pacer = Pacer(SqlPaceStore(engine))  # learned vendor rates, shared by its runs
        self._made: dict[tuple[str, str, str], Sink] = {}

    def run(
        self,
        stream: Stream,
        sub: Subscription,
        source: ChangeSource | None = None,
        options: RunOptions | None = None,
    ) -> Run:
        """One run: lease, pages, final status. Returns the run as recorded."""
        options = options or RunOptions()
        sink = self._sink(stream, sub.tenant_id)
        watch = LeaseWatch()  # a lease the heartbeat finds lost stops the source's vendor calls
        source = source or stream.open_source(
            SourceContext(  # bad settings fail here: nothing written
                sub,
                self.clock,
                sink.lookup(self.engine),
                options.settings or {},
                options.on_wait,
                options.full_refresh,
                guard=watch.check,
                pacer=self.pacer,
            )
        )
        ensure_subscription(self.engine, sub, self.clock.now())
        run = Run(sub.id, sub.tenant_id, self.clock.now(), owner=options.owner or new_owner())
        run.attempt = options.attempt
        lease = self._acquire(run, options)
        if lease is None:
            return run
        beat = options.heartbeat_s or options.lease_ttl_s / 3
        try:
            with Heartbeat(self.leases, lease, self.clock, beat, watch):
                ended_by = self._walk(stream, sub, run, lease, sink, source, options, watch)
            if options.on_finish is not None:
                options.on_finish(run, ended_by)
        finally:
            self.leases.release(lease)
        return run

    def _sink(self, stream: Stream, tenant_id: str) -> Sink:
        """One sink per table and tenant: its compiled statements serve every later run (webhook
        runs are many and small)."""
        key = (stream.table.name, tenant_id, stream.provider)
        sink = self._made.get(key)
        if sink is None:
            sink = self._made[key] = self.sinks(stream.table, tenant_id, stream.provider)
        return sink

    def _acquire(self, run: Run, options: RunOptions) -> Lease | None:
        lease, holder = self.leases.acquire(
            run.subscription_id,
            run.tenant_id,
            run.owner or "",
            run.id,
            run.started_at,
            options.lease_ttl_s,
        )
        if lease is None:
            run.status, run.error = (
                "skipped",
                f"another run holds the lease: {holder.describe() if holder else '?'}",
            )
            run.completed_at = self.clock.now()
            if not options.record_skipped:  # `pipeline schedule` lost a race: nothing to record
                log.info("lease held elsewhere: %s", run.error)
                return None
            self.ledger.start(run)
            self.ledger.finish(run)
            log.warning("run skipped: %s", run.error)
            return None
        if holder is not None:
            with self.engine.begin() as conn:
                self.ledger.abandon_running(conn, run.subscription_id, run.started_at, holder.owner)
        run.fencing_token = lease.fencing_token
        run.started_at = self.clock.now()  # runs of one subscription never overlap in the ledger
        return lease

    def _walk(
        self,
        stream: Stream,
        sub: Subscription,
        run: Run,
        lease: Lease,
        sink: Sink,
        source: ChangeSource,
        options: RunOptions,
        watch: LeaseWatch,
    ) -> BaseException | None:
        with self.engine.connect() as conn:
            run.checkpoint_before = self.checkpoints.get(conn, sub.id)
        run.checkpoint_after = run.checkpoint_before
        self.ledger.start(run)
        ended_by: BaseException | None = None
        pages: Iterator[Page] = iter(())
        try:
            pages = self._pages(source, run, options, watch)
            page_tx = PageTransaction(self, stream, sub, run, lease, sink, source, options.on_step)
            for page in pages:
                stop = options.should_stop() if options.should_stop else False
                if stop:  # a finished walk never stops; a string says why it stopped
                    why = f"{stop}; " if isinstance(stop, str) else ""
                    raise StoppedError(why + stopped_message(run))
                if isinstance(pages, Prefetcher) and not fetches_inside(page):
                    pages.ahead()  # page N+1 is fetched while page N commits
                page_tx.apply(page)
                if options.on_page:
                    options.on_page(run)
        except (PipelineError, BudgetSpent, KeyboardInterrupt) as exc:
            ended_by = exc  # Ctrl-C: the page in flight rolled back; the run ends `stopped`
        except (
            BaseException
        ) as exc:  # a bug or an interrupt still ends the run row, never `running`
            ended_by = exc
            if not isinstance(exc, Exception):
                raise
            log.error(
                "run %s crashed: %s", run.id, redact(f"{type(exc).__name__}: {error_line(exc)}")
            )
        finally:
            if isinstance(pages, Prefetcher):  # Ctrl-C does not wait for a fetch in flight
                pages.close(wait=not isinstance(ended_by, KeyboardInterrupt))
            self._finish(run, source, ended_by)
        return ended_by

    def _pages(
        self, source: ChangeSource, run: Run, options: RunOptions, watch: LeaseWatch
    ) -> Iterator[Page]:
        """The source's pages, fetched one ahead on a background thread when that is safe."""
        pages = iter(source.pages(run.checkpoint_before))
        if (
            not options.prefetch
            or not getattr(source, "prefetch", True)
            or _one_connection(self.engine)
        ):
            return pages
        return Prefetcher(pages, guard=watch.check)

    def _finish(self, run: Run, source: ChangeSource, ended_by: BaseException | None) -> None:
        run.counts.update(_call_counts(source))
        run.completed_at = self.clock.now()
        run.status = final_status(run, ended_by)
        if isinstance(ended_by, BudgetSpent):
            run.retry_after_s = ended_by.retry_after_s
        elif isinstance(ended_by, KeyboardInterrupt):
            run.error = _join(run.error, stopped_message(run))
        elif ended_by is not None:
            run.error = _join(run.error, redact(error_line(ended_by)))
        if run.counts["failed"]:
            run.error = _join(run.error, failures_message(run))
        report_unreadable(run, source)
        self.pacer.flush()  # what this run learned of the vendor's rates, for the next one
        self.ledger.finish(run)


class PageTransaction:
    """Applies one page in one database transaction, as the chain of steps of DESIGN §4."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        stream: Stream,
        sub: Subscription,
        run: Run,
        lease: Lease,
        sink: Sink,
        source: ChangeSource,
        on_step: StepHook | None = None,
    ) -> None:
        self.o = orchestrator
        self.on_step = on_step
        self.stream, self.sub, self.run, self.lease = stream, sub, run, lease
        self.sink, self.source = sink, source
        self.classifier = Classifier(stream, sink, sub.id, run.id)

    def apply(self, page: Page) -> None:
        now, step = self.o.clock.now(), self.step
        number = self.run.counts["pages"] + 1
        before = (
            dict(self.run.counts),
            self.run.guarded,
            self.run.error,
            self.run.checkpoint_after,
            self.run.first_failure,
        )
        step("fetched", number)
        try:
            with gc_paused(), write_transaction(self.o.engine) as conn:
                self.o.leases.check_fence(conn, self.lease, now)
                step("check_fence", number)
                changes = unique_by_key(page.changes)
                duplicates = len(page.changes) - len(changes)
                changes += self.sweep(conn, page.sweeps, {c.external_id for c in changes})
                stored = self.sink.read_existing(conn, [c.external_id for c in changes])
                step("read_existing", number)
                plan, pending = self.classifier.classify(changes, stored, now)
                plan.counts["noop"] += duplicates
                data = self.sink.read_data(conn, [p.change.external_id for p in pending])
                self.classifier.diff_pending(plan, pending, data, now)
                if page.extra is not None:
                    page.extra(conn, plan, self.run)
                step("classify", number)
                self.sink.write(conn, plan.upserts, plan.tombstones, plan.rehashes)
                step("write", number)
                if page.generation is not None:
                    self.sink.mark_seen(conn, [c.external_id for c in changes], page.generation)
                wake = self.o.outbox.wake(conn, plan.events)  # sent with the run counters
                self.record_items(conn, page, plan, wake)
                step("record_items", number)
                self.o.outbox.emit(conn, plan.events, notified=wake is not None)
                step("emit_events", number)
                if isinstance(page.checkpoint, dict):
                    self.o.checkpoints.put(conn, self.sub.id, page.checkpoint, now)
                step("advance_checkpoint", number)
            step("committed", number)
        except BaseException:
            (
                self.run.counts,
                self.run.guarded,
                self.run.error,
                self.run.checkpoint_after,
                self.run.first_failure,
            ) = before  # rolled back
            raise
        if isinstance(page.checkpoint, dict):
            self.run.checkpoint_after = page.checkpoint

    def step(self, name: str, page_number: int) -> None:
        if self.on_step is not None:
            self.on_step(name, page_number)

    def sweep(
        self, conn: Connection, sweeps: Sequence[Sweep], seen_in_page: set[str]
    ) -> list[Change]:
        """Deletion by absence for scopes walked completely, behind the fraction guard."""
        deletes: list[Change] = []
        for sweep in sweeps:
            live = self.sink.live_in_scope(conn, sweep)
            absent = [k for k in absent_from(sweep, live) if k not in seen_in_page]
            if absent and len(absent) > sweep.max_fraction * len(live):
                message = (
                    f"{sweep.scope}: {len(absent)} of {len(live)} stored records are absent, more than "
                    f"{sweep.max_fraction:.0%}; nothing was tombstoned"
                )
                self.run.error = _join(self.run.error, str(GuardError(message)))
                self.run.guarded += 1
                log.warning(message)
                continue
            reasons = (
                sweep.confirm(absent) if sweep.confirm else dict.fromkeys(absent, sweep.reason)
            )
            deletes.extend(Change.delete(k, r) for k in absent if (r := reasons.get(k)))
        return deletes

    def record_items(
        self, conn: Connection, page: Page, plan: Plan, wake: tuple[str, str] | None = None
    ) -> None:
        """Counters and run items, in the page transaction."""
        counts = self.run.counts
        counts["pages"] += 1
        counts["records_found"] += len(page.changes)
        for name, value in plan.counts.items():
            counts[name] += value
        counts.update(_call_counts(self.source))
        if plan.counts["failed"] and self.run.first_failure is None:
            self.run.first_failure = first_failure(plan.items)
        if isinstance(page.checkpoint, dict):
            self.run.checkpoint_after = page.checkpoint
        self.o.ledger.record_page(conn, self.run, plan.items, wake)


def absent_from(sweep: Sweep, live: Sequence[tuple[str, str | None, Any]]) -> list[str]:
    """The live rows of a sweep's scope its walk did not see (`seen`, or unmarked by its generation)."""
    if sweep.generation is None:
        seen = sweep.seen
        return [key for key, _, _ in live if key not in seen]
    cutoff = sweep.written_before
    return [
        key
        for key, generation, updated_at in live
        if generation != sweep.generation and (cutoff is None or _before(updated_at, cutoff))
    ]


def _before(value: Any, cutoff: datetime) -> bool:
    written = as_utc(value)
    return written is None or written <= cutoff


def unique_by_key(changes: Sequence[Change]) -> list[Change]:
    """One change per external id within a page; the last one wins (a reply broadcast to its channel comes twice).

    Failed changes (`Change.invalid`) are all kept: each is its own failed run item."""
    if len({c.external_id for c in changes}) == len(changes):
        return list(changes)
    invalid = [c for c in changes if c.error is not None]
    return list({c.external_id: c for c in changes if c.error is None}.values()) + invalid


def final_status(run: Run, ended_by: BaseException | None) -> str:
    """The status a run ends in (DESIGN §5): errors first, then every record failed (`failed`),
    partial, no_changes, success."""
    if ended_by is not None:
        return run_status_for(ended_by)
    if run.counts["failed"] and run.counts["failed"] >= run.counts["records_found"]:
        return "failed"
    if run.counts["failed"] or run.guarded:
        return "partial"
    if not (run.counts["created"] or run.counts["updated"] or run.counts["deleted"]):
        return "no_changes"
    return "success"


def stopped_message(run: Run) -> str:
    """What a stopped run says: where it stopped and that nothing is lost."""
    pages = run.counts["pages"]
    if not pages:
        return "stopped before its first page; the next run starts there"
    return f"stopped after page {pages}; the next run resumes there"


def failures_message(run: Run) -> str:
    """`all N records failed: …` or `N of M records failed; first: …`."""
    failed, found = run.counts["failed"], run.counts["records_found"]
    first = run.first_failure or "?"
    if failed >= found:
        return (
            f"all {failed} records failed: {first}"
            if failed > 1
            else f"its one record failed: {first}"
        )
    return f"{failed} of {found} records failed; first: {first}"


def first_failure(items: Sequence[dict[str, Any]]) -> str | None:
    for item in items:
        if item["status"] == "failed":
            return f"{item['error']} (record {item['external_id']})"
    return None


def _call_counts(source: ChangeSource) -> dict[str, int]:
    calls = getattr(source, "api_calls", None)
    if not callable(calls):
        return {}
    return {k: int(v) for k, v in calls().items() if k in CALL_COUNTERS}


def _one_connection(engine: Engine) -> bool:
    """An in-memory SQLite database lives in one connection per thread: a fetch thread's lookups
    would read another, empty database."""
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second
