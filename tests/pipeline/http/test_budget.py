"""TokenBucket, RequestBudget and Regime on a FakeClock (Slack's tiers as the worked numbers)."""

import pytest

from pipeline.errors import BudgetSpent
from pipeline.http import FakeClock, Regime, RequestBudget, TokenBucket

TIER3 = Regime(
    "tier3",
    {
        "conversations.history": 50,
        "conversations.replies": 50,
        "conversations.list": 20,
        "users.list": 20,
    },
    limit=200,
)
NON_MARKETPLACE = Regime(
    "non_marketplace",
    {"conversations.history": 1, "conversations.replies": 1, "conversations.list": 20},
    limit=15,
)


def test_fresh_bucket_lets_the_first_request_through_then_spaces_the_rest() -> None:
    bucket = TokenBucket.per_minute(50, clock=FakeClock())

    waits = [bucket.acquire() for _ in range(3)]

    assert waits == pytest.approx([0.0, 1.2, 2.4])  # 60 s / 50 = 1.2 s per token, queued


def test_burst_is_spent_before_any_wait() -> None:
    bucket = TokenBucket(1.0, clock=FakeClock(), burst=3)

    assert [bucket.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_bucket_refills_with_monotonic_time_up_to_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, clock=clock, burst=2)
    bucket.acquire(), bucket.acquire()

    clock.advance(3600)

    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 1.0]


def test_waiting_out_the_returned_time_keeps_the_stated_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket.per_minute(1, clock=clock)

    for _ in range(3):
        clock.sleep(bucket.acquire())

    assert clock.slept == pytest.approx([0.0, 60.0, 60.0])


def test_wait_longer_than_max_wait_raises_budget_spent_and_takes_nothing() -> None:
    clock = FakeClock()
    bucket = NON_MARKETPLACE.bucket("conversations.history", clock)
    assert bucket is not None and bucket.acquire(max_wait_s=5) == 0.0

    with pytest.raises(BudgetSpent) as spent:
        bucket.acquire(max_wait_s=5)

    assert spent.value.retry_after_s == pytest.approx(60.0)
    clock.advance(60)
    assert bucket.acquire(max_wait_s=5) == pytest.approx(0.0)


def test_wait_within_max_wait_is_returned() -> None:
    bucket = TokenBucket.per_minute(50, clock=FakeClock())
    bucket.acquire()

    assert bucket.acquire(max_wait_s=5) == pytest.approx(1.2)


@pytest.mark.parametrize(
    ("rate_per_s", "burst"),
    [pytest.param(0.0, 1, id="zero-rate"), pytest.param(1.0, 0.5, id="burst-below-one")],
)
def test_bucket_that_could_never_send_is_rejected(rate_per_s: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate_per_s, clock=FakeClock(), burst=burst)


def test_request_budget_raises_once_the_cap_is_spent() -> None:
    budget = RequestBudget(2)
    budget.spend(), budget.spend()

    with pytest.raises(BudgetSpent):
        budget.spend()

    assert (budget.used, budget.remaining, budget.is_spent) == (2, 0, True)


def test_request_budget_without_cap_never_runs_out() -> None:
    budget = RequestBudget(None)

    for _ in range(10_000):
        budget.spend()

    assert (budget.used, budget.remaining, budget.is_spent) == (10_000, None, False)


@pytest.mark.parametrize(
    ("regime", "method", "rate_per_s"),
    [
        pytest.param(TIER3, "conversations.history", 50 / 60, id="tier3-history"),
        pytest.param(TIER3, "users.list", 20 / 60, id="tier2-users"),
        pytest.param(NON_MARKETPLACE, "conversations.replies", 1 / 60, id="non-mp-replies"),
    ],
)
def test_regime_builds_a_bucket_per_method(regime: Regime, method: str, rate_per_s: float) -> None:
    bucket = regime.bucket(method, FakeClock())

    assert bucket is not None and bucket.rate_per_s == pytest.approx(rate_per_s)


def test_regime_leaves_unlisted_methods_unbudgeted_and_is_immutable() -> None:
    assert TIER3.bucket("auth.test", FakeClock()) is None
    assert (TIER3.limit, NON_MARKETPLACE.limit) == (200, 15)
    with pytest.raises(TypeError):
        TIER3.rates_per_minute["auth.test"] = 1  # type: ignore[index]
