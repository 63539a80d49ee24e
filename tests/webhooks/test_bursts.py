"""A webhook run follows its subscription's burst (`pipeline serve`): deliveries arriving while it
runs are applied by the same run and lease, page by page, and the run ends once the inbox has been
idle for `idle_s`, or is `max_s` old. Time is the test's clock: each wait of the run is a tick on
which the test may deliver the next webhook over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from pipeline.http.clock import FakeClock
from pipeline.leases import LeaseStore
from pipeline.ledger import Run
from pipeline.subscriptions import Subscription, ensure_subscription
from pipeline.tables import leases, subscriptions
from pipeline.testing import Db
from pipeline.webhooks.applier import BUSY_HOLD_S, FAILED_HOLD_S, POLL_HOLD_S, hold_after
from pipeline.webhooks.bursts import Follow, Wakeups
from pipeline.webhooks.inbox import InboxKey
from tests.webhooks.conftest import Served, envelope, message

KEY = InboxKey("default", "slack", "messages")


def following(db: Db, arrivals: list[Callable[[], object]], **limits: float) -> Follow:
    """A `Follow` whose every wait delivers the next arrival (if any), then lets the time pass."""

    def wait(seconds: float) -> None:
        if arrivals:
            arrivals.pop(0)()
        db.clock.advance(seconds)

    return Follow(
        threading.Event(), threading.Event(), monotonic=db.clock.monotonic, wait=wait, **limits
    )


def post(served: Served, n: int) -> Callable[[], object]:
    return lambda: served.post(envelope(message(ts=f"1767225000.{n:06d}")))


def test_deliveries_arriving_during_a_run_are_applied_by_that_run(served: Served, db: Db) -> None:
    post(served, 1)()
    follow = following(db, [post(served, 2), lambda: None, post(served, 3)], idle_s=0.5)
    started = db.clock.monotonic()

    run = served.applier.apply(KEY, follow)

    assert run is not None
    row = db.run_row(run.id)
    assert (row["status"], row["created"], row["pages"]) == ("success", 3, 3)
    assert {r["run_id"] for r in served.inbox()} == {run.id}
    assert {r["status"] for r in served.inbox()} == {"applied"}
    assert 0.5 <= db.clock.monotonic() - started < 0.7  # ended once idle for idle_s


def test_a_run_ends_at_max_age_and_the_next_run_takes_the_rest(served: Served, db: Db) -> None:
    post(served, 1)()
    arrivals = [post(served, n) for n in range(2, 12)]  # one per tick: never idle
    follow = following(db, arrivals, idle_s=0.5, poll_s=0.05, max_s=0.2)

    first = served.applier.apply(KEY, follow)
    for arrive in arrivals:  # what the aged run did not wait for arrives now
        arrive()
    [second] = served.apply()

    assert first is not None
    assert db.run_row(first.id)["created"] + db.run_row(second.id)["created"] == 11
    assert db.run_row(first.id)["created"] < 11
    assert [e["type"] for e in db.events()] == ["message_created"] * 11


def test_a_stopping_server_ends_the_run_after_its_page(served: Served, db: Db) -> None:
    post(served, 1)()
    follow = following(db, [], idle_s=5)
    started = db.clock.monotonic()
    follow.stop.set()

    run = served.applier.apply(KEY, follow)

    assert run is not None and db.run_row(run.id)["status"] == "success"
    assert [r["status"] for r in served.inbox()] == ["applied"]
    assert db.clock.monotonic() == started  # it did not wait for more


def test_a_receipt_wakes_the_run_following_its_subscription_else_the_dispatcher() -> None:
    wakeups = Wakeups()
    other = InboxKey("acme", "slack", "messages")
    wake = wakeups.follow(KEY)

    wakeups.stored(KEY)
    woken_run, dispatcher_after_run = wake is not None and wake.is_set(), wakeups.dispatch.is_set()
    wakeups.stored(other)

    assert (woken_run, dispatcher_after_run, wakeups.dispatch.is_set()) == (True, False, True)
    assert wakeups.follow(KEY) is None and wakeups.followed() == [KEY]
    wakeups.dispatch.clear()
    wakeups.unfollow(KEY)  # a receipt after the run's last look is not lost: the dispatcher looks
    assert wakeups.dispatch.is_set() and wakeups.followed() == []


def test_a_run_following_steady_deliveries_leaves_the_lease_to_a_due_poll(
    served: Served, db: Db
) -> None:
    sub = Subscription("slack", "messages")
    ensure_subscription(db.engine, sub, db.clock.now())
    post(served, 1)()
    arrivals = [post(served, n) for n in range(2, 40)]  # one per tick: never idle
    follow = following(db, arrivals, idle_s=0.5, poll_s=0.05, max_s=60, due_every_s=0.2)
    follow.poll_due = served.applier.poll_due(KEY)
    with db.engine.begin() as conn:  # `pipeline schedule` would run it in 0.5 s
        due_at = db.clock.now() + timedelta(seconds=0.5)
        conn.execute(subscriptions.update().values(next_run_at=due_at))

    run = served.applier.apply(KEY, follow)

    assert run is not None and follow.yielded
    assert 0.5 <= db.clock.monotonic() - follow.started <= 0.8  # at the first look once due
    [lease] = db.rows(sa.select(leases).where(leases.c.subscription_id == sub.id))
    assert lease["owner"] is None  # released for the poll


def test_a_subscription_left_to_a_poll_is_not_claimed_until_the_hold_ends() -> None:
    clock = FakeClock()
    wakeups = Wakeups(clock.monotonic)
    wakeups.follow(KEY)

    wakeups.unfollow(KEY, hold_s=5)
    held = wakeups.followed()
    clock.advance(5)

    assert (held, wakeups.followed()) == ([KEY], [])


def test_a_subscription_leased_elsewhere_is_passed_over_for_a_second(
    served: Served, db: Db
) -> None:
    post(served, 1)()
    sub = Subscription("slack", "messages")
    ensure_subscription(db.engine, sub, db.clock.now())
    LeaseStore(db.engine).acquire(sub.id, sub.tenant_id, "another-serve", "r1", db.clock.now(), 30)
    applier = served.applier
    wake = applier.wakeups.follow(KEY)
    assert wake is not None

    applier.follow_run(KEY, Follow(wake, threading.Event(), monotonic=db.clock.monotonic))
    held = applier.wakeups.followed()
    db.clock.advance(1)

    assert (held, applier.wakeups.followed()) == ([KEY], [])
    assert [r["status"] for r in served.inbox()] == ["pending"]  # the lease holder applies it


def test_after_a_run_the_applier_waits_as_long_as_its_ending_asks() -> None:
    follow = Follow(threading.Event(), threading.Event())
    ended = {
        s: Run("sub", "default", FakeClock().now()) for s in ("success", "failed", "lost_lease")
    }
    for status, run in ended.items():
        run.status = status

    holds = [hold_after(ended[s], follow) for s in ("success", "failed", "lost_lease")]
    busy = hold_after(None, follow)
    follow.yielded = True

    assert (holds, busy, hold_after(ended["success"], follow)) == (
        [0.0, FAILED_HOLD_S, FAILED_HOLD_S],
        BUSY_HOLD_S,
        POLL_HOLD_S,
    )
