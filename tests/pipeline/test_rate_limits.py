"""Learned rates in `integration_rate_limits`, on SQLite and PostgreSQL: the next run, or another
process, starts from what a run learned and honours its `Retry-After`."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from pipeline.errors import BudgetSpent
from pipeline.http import BearerToken, FakeClock, HttpClient, Regime, RetryPolicy
from pipeline.http.pacing import REFRESH_S, Pacer
from pipeline.rate_limits import SqlPaceStore
from pipeline.tables import rate_limits
from pipeline.testing import Db

HISTORY = "conversations.history"
TIER3 = Regime("tier3", {HISTORY: 50}, burst=10)
OK = httpx.Response(200, json={"ok": True})
LIMITED = httpx.Response(429, headers={"Retry-After": "20"}, json={"ok": False})


def learn(db: Db, clock: FakeClock, *script: httpx.Response) -> Pacer:
    """One "process": a pacer on the database, a client sending one request per script step."""
    pacer = Pacer(SqlPaceStore(db.engine))
    answers = list(script)
    http = HttpClient(
        "https://vendor.test/api/",
        auth=BearerToken("t0ken-for-tests"),
        retry=RetryPolicy(jitter=0.0, max_attempts=1),
        regime=TIER3,
        pacer=pacer.scope("acme", "vendor", TIER3, clock),
        clock=clock,
        transport=httpx.MockTransport(lambda _: answers.pop(0)),
    )
    for _ in script:
        with contextlib.suppress(BudgetSpent):  # the 429 ends the call; what it stored matters
            http.request("POST", HISTORY, budget_key=HISTORY)
    return pacer


def rate(pacer: Pacer, clock: FakeClock, regime: Regime = TIER3) -> float | None:
    return pacer.scope("acme", "vendor", regime, clock).get(HISTORY).rate_per_s


def test_a_rate_learned_from_a_429_is_where_the_next_process_starts(db: Db) -> None:
    clock = FakeClock()
    first = learn(db, clock, *[OK] * 20, LIMITED)
    learned = rate(first, clock)

    later = FakeClock(clock.now())  # another process, same wall time, its own monotonic clock
    second = Pacer(SqlPaceStore(db.engine))

    assert learned is not None and learned < 50 / 60 * 1.25**20
    assert rate(second, later) == pytest.approx(learned)
    wait = second.scope("acme", "vendor", TIER3, later).get(HISTORY).acquire()
    assert wait == pytest.approx(20.0)  # the first process's Retry-After still holds


def test_a_rise_is_stored_when_the_run_flushes(db: Db) -> None:
    clock = FakeClock()
    first = learn(db, clock, *[OK] * 5)
    assert db.rows(rate_limits.select()) == []  # rises are not written per request

    first.flush()

    (row,) = db.rows(rate_limits.select())
    assert (row["tenant_id"], row["connector"], row["method"]) == ("acme", "vendor", HISTORY)
    assert row["rate_per_s"] == pytest.approx(50 / 60 * 1.25**5)
    assert row["ceiling_per_s"] is None and row["blocked_until"] is None
    assert rate(Pacer(SqlPaceStore(db.engine)), FakeClock()) == pytest.approx(row["rate_per_s"])


def test_tenants_are_stored_apart_and_another_regime_starts_afresh(db: Db) -> None:
    clock = FakeClock()
    learn(db, clock, *[OK] * 20, LIMITED)
    store = Pacer(SqlPaceStore(db.engine))

    other_tenant = store.scope("globex", "vendor", TIER3, clock).get(HISTORY).rate_per_s
    other_regime = rate(store, FakeClock(), Regime("internal", {HISTORY: 100}, burst=10))

    assert other_tenant == pytest.approx(50 / 60)
    assert other_regime == pytest.approx(100 / 60)


def test_a_long_lived_process_takes_another_process_s_429_within_a_refresh(db: Db) -> None:
    clock = FakeClock()
    scheduler = Pacer(SqlPaceStore(db.engine))  # a `pipeline schedule` process, running on
    pace = scheduler.scope("acme", "vendor", TIER3, clock).get(HISTORY)
    clock.advance(REFRESH_S - 5)
    learn(db, clock, LIMITED)  # another process meets a 429 asking for 20 s

    unaware = scheduler.scope("acme", "vendor", TIER3, clock).get(HISTORY).acquire()
    clock.advance(10)  # a refresh is due: the stored state is read again
    aware = scheduler.scope("acme", "vendor", TIER3, clock).get(HISTORY).acquire()

    assert unaware == 0.0  # the store is read once per REFRESH_S, not per request
    assert aware == pytest.approx(10.0)  # the rest of the other process's Retry-After
    assert pace.rate_per_s == pytest.approx(50 / 60 * 0.9)  # and its cut rate
