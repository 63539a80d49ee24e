"""Leases (DESIGN §4 step 1): one writer per subscription, takeover of gone holders, fencing."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

import sqlalchemy as sa

from pipeline.changes import Change, Checkpoint, Page
from pipeline.http.clock import FakeClock
from pipeline.leases import HOST, Holder, Lease, LeaseStore
from pipeline.ledger import Run
from pipeline.orchestrator import RunOptions
from pipeline.subscriptions import Subscription, ensure_subscription
from pipeline.tables import leases, runs
from pipeline.testing import Db, ScriptedSource, item

SUB = Subscription("testing", "items")


@dataclass
class GatedSource:
    """Calls `before[n]()` (the test's intervention) before it yields page n.

    Its interventions happen between page n-1's commit and page n: it opts out of fetching ahead,
    which would run them while page n-1 commits (`pipeline/prefetch.py`).
    """

    prefetch: ClassVar[bool] = False
    pages_: Sequence[Sequence[Mapping[str, Any]]]
    before: Mapping[int, Callable[[], object]] = field(default_factory=dict)

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        for number, records in enumerate(self.pages_, start=1):
            if number in self.before:
                self.before[number]()
            changes = [Change.upsert(r["id"], r) for r in records]
            yield Page(changes, {"script": "gated", "page": number})


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def hold_lease(db: Db, owner: str, clock: FakeClock) -> None:
    """Make `owner` the lease holder for the next hour (the lease row must exist)."""
    until = clock.now() + timedelta(hours=1)
    with db.engine.begin() as conn:
        conn.execute(leases.update().values(owner=owner, leased_until=until))


def start_together(*calls: Callable[[], Run]) -> list[str]:
    """Run the calls in threads released at one instant: each run's status, or what it raised."""
    start, outcomes = threading.Barrier(len(calls)), []

    def call(run: Callable[[], Run]) -> None:
        start.wait(10)
        try:
            outcomes.append(run().status)
        except Exception as exc:  # noqa: BLE001  (the outcome under test)
            outcomes.append(f"{type(exc).__name__}: {exc}".splitlines()[0])

    threads = [threading.Thread(target=call, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)


def test_second_concurrent_run_is_skipped_and_writes_nothing(db: Db) -> None:
    entered, release = threading.Event(), threading.Event()
    first: list[Run] = []
    source = GatedSource([[item("a")]], {1: lambda: (entered.set(), release.wait(10))})
    holder = threading.Thread(target=lambda: first.append(db.run(source)))
    holder.start()
    assert entered.wait(10)

    second = db.run(ScriptedSource([[item("b")]]))
    release.set()
    holder.join(10)

    row = db.run_row(second.id)
    assert (first[0].status, second.status, row["status"]) == ("success", "skipped", "skipped")
    assert first[0].owner in row["error"] and f"run {first[0].id}" in row["error"]
    assert (db.items(second.id), db.events(second.id)) == ([], [])
    assert sorted(db.entities()) == ["a"]


def test_first_runs_of_a_new_subscription_started_at_once_never_crash(db: Db) -> None:
    outcomes = []
    for attempt in range(5):  # the race needs both runs in the same few milliseconds: try 5 times
        sub = Subscription("testing", "items", name=f"new-{attempt}")
        source = [[item(str(attempt))]]
        outcomes += start_together(
            *[lambda source=source, sub=sub: db.run(ScriptedSource(source, name="s"), sub=sub)] * 2
        )

    assert set(outcomes) <= {"success", "skipped", "no_changes"}, outcomes
    assert (outcomes.count("success"), len(db.events())) == (5, 5)


def test_expired_lease_is_taken_over_and_stale_holder_loses_its_next_page(
    db: Db, clock: FakeClock
) -> None:
    takeover: list[Run] = []

    def stall_past_ttl() -> None:
        clock.advance(61)
        takeover.append(db.run(ScriptedSource([[item("b")]])))

    source = GatedSource([[item("a1")], [item("a2")]], {2: stall_past_ttl})
    stale = db.run(source, options=RunOptions(lease_ttl_s=60))

    assert (takeover[0].status, stale.status) == ("success", "lost_lease")
    row = db.run_row(stale.id)
    assert (row["status"], row["pages"], row["created"]) == ("lost_lease", 1, 1)
    assert db.run_row(takeover[0].id)["fencing_token"] == row["fencing_token"] + 1
    assert sorted(db.entities()) == ["a1", "b"]
    assert [e["payload"]["externalId"] for e in db.events(stale.id)] == ["a1"]
    assert db.checkpoint() == takeover[0].checkpoint_after


def test_live_lease_within_its_ttl_is_not_taken_over(db: Db, clock: FakeClock) -> None:
    contender: list[Run] = []

    def stall_within_ttl() -> None:
        clock.advance(59)
        contender.append(db.run(ScriptedSource([[item("b")]])))

    source = GatedSource([[item("a1")], [item("a2")]], {2: stall_within_ttl})
    holder = db.run(source, options=RunOptions(lease_ttl_s=60))

    assert (holder.status, holder.created, contender[0].status) == ("success", 2, "skipped")
    assert sorted(db.entities()) == ["a1", "a2"]


def test_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(
    db: Db, clock: FakeClock
) -> None:
    db.run(ScriptedSource([[item("1")]]))
    dead = f"{HOST}:{dead_pid()}:gone"
    hold_lease(db, dead, clock)
    with db.engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                id="crashed",
                subscription_id=SUB.id,
                tenant_id=SUB.tenant_id,
                status="running",
                started_at=clock.now(),
                owner=dead,
            )
        )

    run = db.run(ScriptedSource([[item("2")]]))

    assert (run.status, run.created) == ("success", 1)
    crashed = db.run_row("crashed")
    assert crashed["status"] == "failed" and dead in crashed["error"]


def test_holder_on_another_host_is_never_presumed_dead(db: Db, clock: FakeClock) -> None:
    db.run(ScriptedSource([[item("1")]]))
    hold_lease(db, f"elsewhere.example:{dead_pid()}:x", clock)

    run = db.run(ScriptedSource([[item("2")]]))

    assert (run.status, sorted(db.entities())) == ("skipped", ["1"])
    assert "elsewhere.example" in db.run_row(run.id)["error"]


def test_finished_run_releases_its_lease_for_the_next_run_at_once(db: Db) -> None:
    first = db.run(ScriptedSource([[item("1")]]))
    [lease] = db.rows(sa.select(leases))

    second = db.run(ScriptedSource([[item("2")]]))

    assert (lease["owner"], lease["leased_until"], lease["run_id"]) == (None, None, None)
    assert second.status == "success"
    assert db.run_row(second.id)["fencing_token"] == db.run_row(first.id)["fencing_token"] + 1


def acquire(store: LeaseStore, owner: str, clock: FakeClock) -> tuple[Lease | None, Holder | None]:
    return store.acquire(SUB.id, SUB.tenant_id, owner, f"run-of-{owner}", clock.now(), 60)


def test_release_lets_another_owner_acquire(db: Db, clock: FakeClock) -> None:
    store = LeaseStore(db.engine)
    ensure_subscription(db.engine, SUB, clock.now())
    mine, _ = acquire(store, f"{HOST}:{os.getpid()}:me", clock)
    assert mine is not None

    blocked, holder = acquire(store, "other:1:them", clock)
    store.release(mine)
    theirs, _ = acquire(store, "other:1:them", clock)

    assert (blocked, holder and holder.owner) == (None, mine.owner)
    assert theirs is not None and theirs.fencing_token == mine.fencing_token + 1


def test_stale_holder_release_leaves_the_new_holder_alone(db: Db, clock: FakeClock) -> None:
    store = LeaseStore(db.engine)
    ensure_subscription(db.engine, SUB, clock.now())
    stale, _ = acquire(store, "other:1:stale", clock)
    clock.advance(61)
    fresh, _ = acquire(store, "other:1:fresh", clock)
    assert stale is not None and fresh is not None

    store.release(stale)
    blocked, holder = acquire(store, "other:1:third", clock)

    assert blocked is None and holder is not None
    assert (holder.owner, holder.run_id) == ("other:1:fresh", "run-of-other:1:fresh")
