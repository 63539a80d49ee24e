"""RequestBudget and Regime (Slack's tiers as the worked numbers); pacing is in test_pacing.py."""

import pytest

from pipeline.errors import BudgetSpent
from pipeline.http import Regime, RequestBudget

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
def test_regime_gives_pacing_its_documented_rate_per_method(
    regime: Regime, method: str, rate_per_s: float
) -> None:
    spec = regime.pace_spec(method)

    assert spec.rate_per_s == pytest.approx(rate_per_s)


def test_regime_leaves_unlisted_methods_unbudgeted_and_is_immutable() -> None:
    assert TIER3.pace_spec("auth.test").rate_per_s is None
    assert (TIER3.limit, NON_MARKETPLACE.limit) == (200, 15)
    with pytest.raises(TypeError):
        TIER3.rates_per_minute["auth.test"] = 1  # type: ignore[index]
