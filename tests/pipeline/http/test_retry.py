"""RetryPolicy.decide: the wait table, without a clock."""

import random

import pytest

from pipeline.errors import AuthError, RateLimitedError, SourceError, TransientError
from pipeline.http import RetryPolicy

EXACT = RetryPolicy(jitter=0.0)


@pytest.mark.parametrize(
    ("error", "attempt", "expected"),
    [
        pytest.param(TransientError(), 1, 0.5, id="5xx-first-failure-waits-base"),
        pytest.param(TransientError(), 2, 1.0, id="5xx-second-failure-doubles"),
        pytest.param(TransientError(), 4, 4.0, id="5xx-fourth-failure-0.5*2**3"),
        pytest.param(TransientError(), 5, None, id="5xx-fifth-failure-gives-up"),
        pytest.param(RateLimitedError(retry_after_s=7), 1, 7.0, id="429-waits-retry-after"),
        pytest.param(RateLimitedError(retry_after_s=120), 1, 120.0, id="429-not-capped"),
        pytest.param(RateLimitedError(retry_after_s=None), 1, 5.0, id="429-no-header-falls-back"),
        pytest.param(RateLimitedError(retry_after_s=0), 3, 5.0, id="429-zero-falls-back"),
        pytest.param(RateLimitedError(retry_after_s=7), 5, None, id="429-out-of-attempts"),
        pytest.param(AuthError(), 1, None, id="auth-never-retried"),
        pytest.param(SourceError(), 1, None, id="plain-source-error-never-retried"),
        pytest.param(ValueError("bug"), 1, None, id="bug-never-retried"),
    ],
)
def test_decide_without_jitter(error: BaseException, attempt: int, expected: float | None) -> None:
    assert EXACT.decide(error, attempt) == expected


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        pytest.param(6, 16.0, id="below-cap-0.5*2**5"),
        pytest.param(7, 30.0, id="capped-0.5*2**6=32"),
        pytest.param(20, 30.0, id="stays-capped"),
        pytest.param(2000, 30.0, id="huge-attempt-no-overflow"),
    ],
)
def test_backoff_is_capped(attempt: int, expected: float) -> None:
    policy = RetryPolicy(max_attempts=5000, jitter=0.0)

    assert policy.decide(TransientError(), attempt) == expected


class _Fixed(random.Random):
    """A real Random that always draws the same number, so a jittered wait is exact."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("error", "attempt", "expected"),
    [
        pytest.param(TransientError(), 1, 0.55, id="backoff-plus-half-of-20%"),
        pytest.param(TransientError(), 3, 2.2, id="jitter-scales-with-backoff"),
        pytest.param(RateLimitedError(retry_after_s=10), 1, 11.0, id="retry-after-only-lengthened"),
        pytest.param(RateLimitedError(), 1, 5.5, id="fallback-jittered-too"),
    ],
)
def test_jitter_adds_a_fraction_drawn_from_the_injected_rng(
    error: BaseException, attempt: int, expected: float
) -> None:
    policy = RetryPolicy(jitter=0.2, rng=_Fixed(0.5))

    assert policy.decide(error, attempt) == pytest.approx(expected)


def test_seeded_rng_gives_the_same_waits_within_the_jitter_band() -> None:
    first = RetryPolicy(jitter=0.1, rng=random.Random(42))
    second = RetryPolicy(jitter=0.1, rng=random.Random(42))

    waits = [first.decide(TransientError(), n) for n in range(1, 5)]

    assert waits == [second.decide(TransientError(), n) for n in range(1, 5)]
    for n, wait in enumerate(waits, start=1):
        assert wait is not None and EXACT.backoff_s(n) <= wait <= EXACT.backoff_s(n) * 1.1


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"max_attempts": 0}, id="no-attempts"),
        pytest.param({"jitter": 1.5}, id="jitter-over-one"),
        pytest.param({"base_s": -1.0}, id="negative-base"),
    ],
)
def test_invalid_policy_is_rejected(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**overrides)  # type: ignore[arg-type]
