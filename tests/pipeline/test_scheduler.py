"""`pipeline schedule` on the fake clock (DESIGN §9): claims, retries and backoff, throttling,
the sweeper, the maximum run duration, pause/resume and the import of pipeline.toml."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline.changes import Change, Checkpoint, Page
from pipeline.config import PipelineConfig
from pipeline.db import as_utc
from pipeline.errors import AuthError, BudgetSpent, TransientError
from pipeline.http.clock import FakeClock
from pipeline.leases import LeaseStore
from pipeline.ledger import Run, SqlLedger
from pipeline.ports import ChangeSource
from pipeline.retries import RetryPolicy
from pipeline.scheduler import Scheduler, ScheduleSettings
from pipeline.subscription_store import SubscriptionStore, Trigger
from pipeline.subscriptions import Subscription
from pipeline.subscriptions_cli import listing
from pipeline.tables import runs, subscriptions
from pipeline.testing import Db, ScriptedSource, item

Factory = Callable[[], ChangeSource]


def sub(tenant: str = "t1", name: str = "default") -> Subscription:
    return Subscription("testing", "items", tenant, name)


def add(db: Db, *subs: Subscription, interval_s: float = 60) -> None:
    for s in subs:
        SubscriptionStore(db.engine).add(s, Trigger(interval_s), db.clock.now())


def scheduler(
    db: Db, sources: Mapping[str, Factory] | None = None, workers: int = 4, **settings: Any
) -> Scheduler:
    """A scheduler whose runs read `sources[sub.name]()` (default: one page of one record)."""
    sources = sources or {}

    def source_for(s: Subscription) -> ChangeSource:
        make = sources.get(s.name)
        return make() if make else ScriptedSource([[item(s.tenant_id)]], name="one")

    retry = RetryPolicy(10, 40, jitter=lambda: 1.0)  # no randomness: the ceiling each time
    options = ScheduleSettings(workers=workers, lease_ttl_s=60, retry=retry, **settings)
    return Scheduler(db.engine, options, db.clock, source_for=source_for)


def row(db: Db, s: Subscription) -> dict[str, Any]:
    [found] = db.rows(sa.select(subscriptions).where(subscriptions.c.id == s.id))
    return found


def next_run(db: Db, s: Subscription) -> datetime | None:
    return as_utc(row(db, s)["next_run_at"])


def statuses(runs_: Sequence[Run | None]) -> list[str | None]:
    return [r.status if r else None for r in runs_]


def test_due_subscriptions_run_and_are_due_again_one_interval_after_their_due_time(db: Db) -> None:
    add(db, sub("t1"), sub("t2"))
    due = db.clock.now()
    s = scheduler(db)

    first = s.run_due()
    again = s.run_due()
    db.clock.advance(60)
    later = s.run_due()

    assert statuses(first) == ["success", "success"]
    assert again == []
    assert statuses(later) == ["no_changes", "no_changes"]
    assert next_run(db, sub("t1")) == due + timedelta(seconds=120)


def test_two_schedulers_claim_disjoint_subscriptions_and_write_no_run_row(db: Db) -> None:
    add(db, *(sub(f"t{n}") for n in range(4)))
    one, two = scheduler(db), scheduler(db)

    first, second = one.claim(3), two.claim(3)

    assert len(first) == 3 and len(second) == 1
    assert {c.sub.id for c in first}.isdisjoint({c.sub.id for c in second})
    assert db.rows(sa.select(runs)) == []


def test_a_subscription_whose_lease_is_held_is_not_claimed_and_a_lost_race_writes_nothing(
    db: Db,
) -> None:
    add(db, sub("t1"))
    s = scheduler(db)
    [claim] = s.claim(1)
    LeaseStore(db.engine).acquire(sub("t1").id, "t1", "elsewhere:1:x", "r", db.clock.now(), 600)
    db.clock.advance(120)  # past the claim hold: due again, but its lease is held

    lost = s.execute(claim)
    reclaimed = s.claim(1)

    assert lost is None and reclaimed == []
    assert db.rows(sa.select(runs)) == []  # no `skipped` row


def test_failed_runs_back_off_exponentially_up_to_the_cap_and_a_success_resets(db: Db) -> None:
    add(db, sub("t1"))
    failing = {"default": lambda: ScriptedSource([], fail_with=TransientError("503 from vendor"))}
    s = scheduler(db, failing)
    waits, attempts = [], []
    for _ in range(4):
        [run] = s.run_due()
        assert run is not None
        attempts.append(db.run_row(run.id)["attempt"])
        wait = next_run(db, sub("t1")) - db.clock.now()  # type: ignore[operator]
        waits.append(wait.total_seconds())
        db.clock.advance(wait.total_seconds())

    s.source_for = lambda _: ScriptedSource([[item("1")]], name="ok")
    [ok] = s.run_due()

    assert (waits, attempts) == ([10, 20, 40, 40], [1, 2, 3, 4])
    assert ok is not None and (ok.status, db.run_row(ok.id)["attempt"]) == ("success", 5)
    assert (row(db, sub("t1"))["attempt"], row(db, sub("t1"))["last_error"]) == (0, None)
    assert next_run(db, sub("t1")) == db.clock.now() + timedelta(seconds=60)


def test_jitter_keeps_each_wait_between_half_and_all_of_the_ceiling() -> None:
    low, high = RetryPolicy(10, 40, jitter=lambda: 0.0), RetryPolicy(10, 40, jitter=lambda: 1.0)

    assert [low.delay_s(n) for n in (1, 2, 3, 9)] == [5, 10, 20, 20]
    assert [high.delay_s(n) for n in (1, 2, 3, 9)] == [10, 20, 40, 40]


def test_an_auth_error_is_not_retried_and_the_list_says_so(db: Db) -> None:
    add(db, sub("t1"))
    due = db.clock.now()
    revoked = {"default": lambda: ScriptedSource([], fail_with=AuthError("invalid_auth"))}

    [run] = scheduler(db, revoked).run_due()

    assert run is not None and run.status == "failed"
    assert next_run(db, sub("t1")) == due + timedelta(seconds=60)  # its regular time, no retry
    [entry] = listing(db.engine, db.clock.now())
    assert (entry["status"], entry["attempt"]) == ("failing", 1)
    assert entry["error"] == "not retried: invalid_auth"


def test_a_throttled_run_is_due_again_when_the_vendor_allows(db: Db) -> None:
    add(db, sub("t1"))
    throttled = {"default": lambda: ScriptedSource([[item("1")]], fail_with=BudgetSpent(42))}

    [run] = scheduler(db, throttled).run_due()

    assert run is not None and run.status == "throttled"
    assert next_run(db, sub("t1")) == db.clock.now() + timedelta(seconds=42)
    assert row(db, sub("t1"))["attempt"] == 0


def test_the_sweeper_closes_a_dead_holders_run_within_one_lease_ttl(db: Db) -> None:
    add(db, sub("t1"))
    db.clock.advance(-3600)  # the subscription is not due again: only the sweeper can close it
    s = scheduler(db)
    lease, _ = LeaseStore(db.engine).acquire(
        sub("t1").id, "t1", "host:1:dead", "r1", db.clock.now(), 60
    )
    assert lease is not None
    crashed = Run(sub("t1").id, "t1", db.clock.now(), id="r1", owner="host:1:dead", fencing_token=1)
    SqlLedger(db.engine).start(crashed)

    db.clock.advance(59)
    s.maintain(force=True)
    still = db.run_row("r1")["status"]
    db.clock.advance(2)
    s.maintain(force=True)

    closed = db.run_row("r1")
    assert still == "running"
    assert (closed["status"], closed["error"]) == ("failed", "interrupted: holder host:1:dead gone")


class SlowPages:
    """Three pages; the fake clock moves 40 s while each is fetched."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        start = int(checkpoint["page"]) if checkpoint else 0
        for number in range(start + 1, 4):
            self.clock.advance(40)
            yield Page([Change.upsert(str(number), item(str(number)))], {"page": number})


def test_a_run_past_its_maximum_duration_stops_after_its_page_and_resumes_next(db: Db) -> None:
    add(db, sub("t1"))
    s = scheduler(db, {"default": lambda: SlowPages(db.clock)}, max_run_s=100)

    [stopped] = s.run_due()
    due_at = next_run(db, sub("t1"))
    [resumed] = s.run_due()

    # page 3 arrived 120 s in: it is left for the next run, which resumes from page 2's checkpoint
    assert stopped is not None and (stopped.status, stopped.pages) == ("stopped", 2)
    assert (
        stopped.error
        == "at its maximum duration (100s); stopped after page 2; the next run resumes there"
    )
    assert due_at == stopped.completed_at  # due again at once
    assert resumed is not None and (resumed.status, resumed.pages) == ("success", 1)


def test_a_tenant_never_holds_more_than_its_share_of_the_workers(db: Db) -> None:
    add(db, *(sub("busy", f"s{n}") for n in range(3)), sub("calm"))
    s = scheduler(db, workers=2)  # two tenants: one worker each

    claims = s.claim(2)
    more = s.claim(2)

    assert sorted(c.tenant for c in claims) == ["busy", "calm"]
    assert more == []  # both tenants hold their share; busy's other subscriptions stay due
    s.shares.release("busy")
    assert [c.tenant for c in s.claim(2)] == ["busy"]


def test_paused_subscriptions_are_not_claimed_and_resume_due_at_once(db: Db) -> None:
    add(db, sub("t1"))
    store = SubscriptionStore(db.engine)
    store.pause(sub("t1").id, "maintenance", db.clock.now())
    s = scheduler(db)

    while_paused = s.run_due()
    db.clock.advance(600)
    store.resume(sub("t1").id, db.clock.now())
    after = s.run_due()

    assert while_paused == [] and statuses(after) == ["success"]


def test_enqueue_makes_a_subscription_due_now(db: Db) -> None:
    add(db, sub("t1"))
    s = scheduler(db)
    s.run_due()

    SubscriptionStore(db.engine).enqueue(sub("t1").id, db.clock.now())

    assert statuses(s.run_due()) == ["no_changes"]


def test_importing_pipeline_toml_twice_changes_nothing_the_second_time(db: Db) -> None:
    declared = [{"stream": "slack-users", "tenant": t, "interval": "1m"} for t in ("a", "b")]
    config = PipelineConfig.model_validate({"subscriptions": declared})
    store = SubscriptionStore(db.engine)

    first = store.import_config(config, db.clock.now())
    second = store.import_config(config, db.clock.now())
    declared[0]["interval"] = "5m"
    changed = store.import_config(
        PipelineConfig.model_validate({"subscriptions": declared}), db.clock.now()
    )

    assert (first, second, changed) == ((2, 0), (0, 0), (0, 1))
    assert sorted(r["interval_s"] for r in db.rows(sa.select(subscriptions))) == [60, 300]
