"""Applying the webhook inbox (DESIGN §8): a subscription's pending deliveries, one run per burst.

The applier claims a subscription's pending deliveries, opens a run of that subscription whose
source is the inbox, and applies them page by page (up to `batch_size` deliveries each) through the
same page transaction as polling (lease and fencing, hash gate, diff, tombstones, run items,
events). The deliveries are marked applied, or failed with their error, inside that transaction;
the checkpoint is left as it was. In `pipeline serve` the run then follows the subscription's inbox
until it is idle (`bursts.Follow`), so a burst of deliveries is one run and one lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.changes import KEEP_CHECKPOINT, Change, Checkpoint, Page
from pipeline.classify import Plan
from pipeline.db import as_utc
from pipeline.errors import redact
from pipeline.http.clock import Clock
from pipeline.leases import holder_is_gone, new_owner
from pipeline.ledger import Run
from pipeline.metrics import observe_run
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.tables import leases
from pipeline.webhooks import inbox
from pipeline.webhooks.bursts import Follow, Wakeups
from pipeline.webhooks.handler import PayloadError, WebhookHandler
from pipeline.webhooks.registry import webhook_handler
from pipeline.webhooks.subscriptions import find_subscription, poll_is_due

log = logging.getLogger("pipeline.serve")
SUBSCRIPTION_TTL_S = 5.0
POLL_HOLD_S = 5.0
"""How long a subscription whose run left the lease to a due poll is not claimed by the applier
(the scheduler claims due subscriptions every few seconds; deliveries wait in the inbox)."""
FAILED_HOLD_S = 10.0
"""A failed run's subscription is retried after this long (a database fault, a bug), not at once."""
BUSY_HOLD_S = 1.0
"""How long the applier passes over a subscription whose lease another holder has (a poll, or a
run in another `serve` process, which applies this process's receipts too): not a claim per
receipt meanwhile."""


class InboxSource:
    """A change source over one subscription's pending deliveries: a page per `limit` of them,
    until none is pending (or, following a burst, until `follow` says the inbox went idle)."""

    prefetch = False  # the next page is what is still pending once this one has committed

    def __init__(
        self,
        engine: Engine,
        handler: WebhookHandler,
        key: inbox.InboxKey,
        limit: int,
        follow: Follow | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.engine, self.handler, self.key, self.limit = engine, handler, key, limit
        self.follow, self.config = follow, config or {}
        self.applied = 0

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        while True:
            deliveries = inbox.pending(self.engine, self.key, self.limit)
            if deliveries:
                self.applied += len(deliveries)
                yield self.page(deliveries)
                if self.follow is not None:
                    self.follow.worked()
                    if self.follow.aged():
                        return
            elif self.follow is None or not self.follow.more():
                return

    def page(self, deliveries: Sequence[inbox.Delivery]) -> Page:
        mapped = [(d, self.changes_of(d)) for d in deliveries]
        changes = fold([c for _, found in mapped for c in found])
        # a webhook run never moves the poll's checkpoint
        return Page(changes, KEEP_CHECKPOINT, extra=Outcomes(mapped).record)

    def changes_of(self, delivery: inbox.Delivery) -> Sequence[Change]:
        """The delivery's changes; one that cannot be read becomes a failed item naming it."""
        try:
            found = self.handler.changes(orjson.loads(delivery.body))
        except (PayloadError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return [Change.invalid(unreadable(delivery), redact(f"{type(exc).__name__}: {exc}"))]
        if found is None or found.stream != self.key.stream:
            error = f"the payload no longer maps to stream {self.key.stream!r}"
            return [Change.invalid(unreadable(delivery), error)]
        return [c for c in found.changes if self.in_scope(c)]

    def in_scope(self, change: Change) -> bool:
        """The handler's `in_scope(change, config)`, if it has one: a change outside what the
        subscription syncs (e.g. a channel it does not list) is dropped, the delivery applied."""
        check = getattr(self.handler, "in_scope", None)
        return check is None or change.error is not None or bool(check(change, self.config))

    def api_calls(self) -> Mapping[str, int]:
        return {}


def unreadable(delivery: inbox.Delivery) -> str:
    return f"delivery:{delivery.delivery_id}"[:255]


def fold(changes: Sequence[Change]) -> list[Change]:
    """One change per entity, in delivery order: an upsert after an upsert of the same entity is
    laid over it (absent keys keep the earlier values, as they would keep stored ones); a delete
    replaces what came before, and so does an upsert after a delete unless it may not restore
    (`Change.restores`: a late hint keeps the deletion)."""
    folded: dict[str, Change] = {}
    for change in changes:
        before = folded.pop(change.external_id, None)
        folded[change.external_id] = _after(before, change) if before is not None else change
    return list(folded.values())


def _after(before: Change, change: Change) -> Change:
    if before.record is None and change.record is not None and not change.restores:
        return before if before.error is None else change
    if before.record is not None and change.record is not None:
        return replace(change, record={**before.record, **change.record})
    return change


class Outcomes:
    """The page hook: marks each delivery applied, or failed with its error (DESIGN §8)."""

    def __init__(self, mapped: Sequence[tuple[inbox.Delivery, Sequence[Change]]]) -> None:
        self.mapped = mapped

    def record(self, conn: Connection, plan: Plan, run: Run) -> None:
        failed = {i["external_id"]: i["error"] for i in plan.items if i["status"] == "failed"}
        outcomes: list[tuple[int, str | None]] = []
        for delivery, found in self.mapped:
            errors = [failed[c.external_id] for c in found if c.external_id in failed]
            outcomes.append((delivery.id, errors[0] if errors else None))
        inbox.mark(conn, outcomes, run.id, run_now(plan, run))


def run_now(plan: Plan, run: Run) -> datetime:
    """The page's time: its items carry it; a page of noops only has the run's start."""
    return plan.items[0]["created_at"] if plan.items else run.started_at


def hold_after(run: Run | None, follow: Follow) -> float:
    """How long the applier leaves a subscription alone after its following run ended."""
    if follow.yielded:
        return POLL_HOLD_S
    if run is None:  # its lease is busy, or the run could not start
        return BUSY_HOLD_S
    return FAILED_HOLD_S if run.status in ("failed", "lost_lease") else 0.0


class Applier:
    """Applies pending deliveries, one run per subscription burst; several may share a database."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        batch_size: int = 500,
        claim_ttl_s: float = 60.0,
        lease_ttl_s: float = 30.0,
        max_runs: int = 4,
    ) -> None:
        self.engine = engine
        self.orchestrator = Orchestrator(engine, clock)
        self.clock = self.orchestrator.clock
        self.owner = new_owner()
        self.batch_size, self.claim_ttl_s, self.lease_ttl_s = batch_size, claim_ttl_s, lease_ttl_s
        self.max_runs = max_runs
        self.wakeups = Wakeups(self.clock.monotonic)
        self._subscriptions: dict[inbox.InboxKey, tuple[float, Subscription]] = {}

    def apply_pending(self) -> list[Run]:
        """Apply every delivery that is pending and not claimed by another applier."""
        done: list[Run] = []
        while (key := self.claim()) is not None:
            run = self.apply(key)
            if run is not None:
                done.append(run)
        return done

    def claim(self, skip: Collection[inbox.InboxKey] = ()) -> inbox.InboxKey | None:
        now, ttl_s = self.clock.now(), self.claim_ttl_s
        return inbox.claim(self.engine, self.owner, now, ttl_s, self.batch_size, skip)

    def apply(self, key: inbox.InboxKey, follow: Follow | None = None) -> Run | None:
        """One run over the subscription's pending deliveries (None: its lease is busy); with
        `follow`, the run goes on applying the deliveries that arrive until the inbox is idle."""
        handler = webhook_handler(key.connector)
        stream = get_stream(f"{key.connector}-{key.stream}")
        sub = self.subscription(key)
        if handler is None or self.lease_busy(sub.id):
            inbox.release(self.engine, key, self.owner, self.clock.now() + timedelta(seconds=1))
            return None
        source = InboxSource(self.engine, handler, key, self.batch_size, follow, sub.config)
        options = RunOptions(lease_ttl_s=self.lease_ttl_s, owner=self.owner)
        run = self.orchestrator.run(stream, sub, source, options)
        if not source.applied:
            log.debug("webhook run %s found nothing pending", run.id)
        observe_run(stream.full_name, stream.connector, run)
        if run.status not in ("failed", "lost_lease"):
            inbox.release(self.engine, key, self.owner)  # else the claim's expiry is the backoff
        return run

    def subscription(self, key: inbox.InboxKey) -> Subscription:
        """The key's subscription, looked up again after `SUBSCRIPTION_TTL_S` (config changes)."""
        found = self._subscriptions.get(key)
        if found is None or time.monotonic() - found[0] > SUBSCRIPTION_TTL_S:
            sub = find_subscription(self.engine, key.tenant_id, key.connector, key.stream)
            found = self._subscriptions[key] = (time.monotonic(), sub)
        return found[1]

    def lease_busy(self, subscription_id: str) -> bool:
        """A poll (or another applier) holds the subscription: try again in a second, no run row."""
        query = sa.select(leases.c.owner, leases.c.leased_until).where(
            leases.c.subscription_id == subscription_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row[0] == self.owner:
            return False
        return not holder_is_gone(row[0], as_utc(row[1]), self.clock.now())

    def run_forever(self, stop: threading.Event, idle_s: float = 0.2) -> None:
        """`pipeline serve`: claim subscriptions as deliveries arrive (and every `idle_s`, for
        expired claims and the receipts of other processes, e.g. `--no-apply` ones: one indexed
        read each time), one following run each, until `stop`."""
        with ThreadPoolExecutor(self.max_runs, thread_name_prefix="webhook-run") as runs:
            while not stop.is_set():
                self.wakeups.dispatch.clear()
                try:
                    self.dispatch(runs, stop)
                except Exception as exc:  # noqa: BLE001  (a database outage: log, keep serving)
                    log.error("webhook applier: %s", redact(f"{type(exc).__name__}: {exc}"))
                    stop.wait(idle_s)
                self.wakeups.dispatch.wait(idle_s)

    def dispatch(self, runs: ThreadPoolExecutor, stop: threading.Event) -> None:
        """Start a following run for each claimed subscription no run of ours follows yet."""
        while (key := self.claim(self.wakeups.followed())) is not None:
            wake = self.wakeups.follow(key)
            if wake is None:  # cannot happen (only this thread starts runs); its run applies it
                continue
            follow = Follow(wake, stop, monotonic=self.clock.monotonic)
            runs.submit(self.follow_run, key, follow)

    def poll_due(self, key: inbox.InboxKey) -> Callable[[], bool]:
        """Asks whether `pipeline schedule` would run the key's subscription now."""
        sub_id = self.subscription(key).id
        return lambda: poll_is_due(self.engine, sub_id, self.clock.now())

    def follow_run(self, key: inbox.InboxKey, follow: Follow) -> None:
        """One following run (on a worker thread); whatever ends it, the key is unfollowed."""
        run = None
        try:
            follow.poll_due = self.poll_due(key)
            run = self.apply(key, follow)
        except Exception as exc:  # noqa: BLE001  (logged; the claim's expiry retries it)
            log.error("webhook run: %s", redact(f"{type(exc).__name__}: {exc}"))
        finally:
            self.wakeups.unfollow(key, hold_after(run, follow))
