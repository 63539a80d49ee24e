"""HttpClient against a scripted vendor behind `httpx.MockTransport`, on a FakeClock."""

import logging
import time
import traceback
from email.utils import format_datetime

import httpx
import pytest

import pipeline.http
from pipeline.errors import (
    AuthError,
    BudgetSpent,
    MissingTokenError,
    RateLimitedError,
    SourceError,
    TransientError,
)
from pipeline.http import (
    BearerToken,
    CallStats,
    FakeClock,
    HttpClient,
    Regime,
    RequestBudget,
    RetryPolicy,
)
from pipeline.http.pacing import Pacer

TOKEN = "plain-looking-secret-4711"  # not xox-shaped: only registration can redact it
OK = httpx.Response(200, json={"ok": True})
TIER3 = Regime("tier3", {"conversations.history": 50}, limit=200, fixed=True)
NON_MARKETPLACE = Regime("non_marketplace", {"conversations.history": 1}, limit=15, fixed=True)

Step = httpx.Response | Exception


class Vendor:
    """Answers each request with the next scripted step (or raises it); records what it was sent."""

    def __init__(self, *script: Step) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, headers=headers, json={"ok": False})


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called; waits must go through the Clock")

    monkeypatch.setattr(time, "sleep", forbidden)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(vendor: Vendor, clock: FakeClock, **overrides: object) -> HttpClient:
    options: dict[str, object] = {
        "auth": BearerToken(TOKEN),
        "retry": RetryPolicy(jitter=0.0),
        "clock": clock,
        "transport": httpx.MockTransport(vendor),
    }
    options.update(overrides)
    return HttpClient("https://slack.test/api/", **options)  # type: ignore[arg-type]


def test_success_sends_bearer_token_and_counts_one_call(clock: FakeClock) -> None:
    vendor = Vendor(OK)

    response = make_client(vendor, clock).request("POST", "auth.test", data={"a": "1"})

    assert response.json() == {"ok": True}
    [sent] = vendor.requests
    assert (sent.url, sent.headers["Authorization"]) == (
        "https://slack.test/api/auth.test",
        f"Bearer {TOKEN}",
    )
    assert sent.content == b"a=1"
    assert clock.slept == []


def test_5xx_is_retried_with_exponential_backoff_on_the_clock(clock: FakeClock) -> None:
    client = make_client(Vendor(status(503), status(502), OK), clock)

    client.request("GET", "conversations.history")

    assert clock.slept == [0.5, 1.0]
    assert client.stats == CallStats(api_calls=3, rate_limited=0, retries=2, waited_s=1.5)


def test_persistent_5xx_raises_transient_error_after_max_attempts(clock: FakeClock) -> None:
    client = make_client(Vendor(*[status(500)] * 5), clock)

    with pytest.raises(TransientError, match=r"HTTP 500 from GET conversations\.history"):
        client.request("GET", "conversations.history")

    assert clock.slept == [0.5, 1.0, 2.0, 4.0]
    assert (client.stats.api_calls, client.stats.retries) == (5, 4)


def _in_10_s() -> str:
    return format_datetime(FakeClock().now().replace(second=10), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected_wait"),
    [
        pytest.param({"Retry-After": "3"}, 3.0, id="integer-seconds"),
        pytest.param({}, 5.0, id="absent-falls-back-to-5s"),
        pytest.param({"Retry-After": "0"}, 5.0, id="zero-falls-back-to-5s"),
        pytest.param({"Retry-After": _in_10_s()}, 10.0, id="http-date"),
        pytest.param({"Retry-After": "soon"}, 5.0, id="unreadable-falls-back"),
    ],
)
def test_429_waits_retry_after_then_succeeds(
    clock: FakeClock, headers: dict[str, str], expected_wait: float
) -> None:
    client = make_client(Vendor(status(429, **headers), OK), clock)

    client.request("GET", "conversations.history")

    assert clock.slept == [expected_wait]
    assert client.stats == CallStats(api_calls=2, rate_limited=1, retries=1, waited_s=expected_wait)


def test_persistent_429_ends_throttled_not_failed(clock: FakeClock) -> None:
    client = make_client(Vendor(*[status(429, **{"Retry-After": "2"})] * 5), clock)

    with pytest.raises(BudgetSpent) as spent:
        client.request("GET", "conversations.history")

    assert spent.value.retry_after_s == 2.0
    assert isinstance(spent.value.__cause__, RateLimitedError)
    assert (client.stats.rate_limited, client.stats.retries, clock.slept) == (5, 4, [2.0] * 4)


def test_429_longer_than_max_wait_raises_budget_spent_without_sleeping(clock: FakeClock) -> None:
    client = make_client(Vendor(status(429, **{"Retry-After": "60"})), clock, max_wait_s=10)

    with pytest.raises(BudgetSpent) as spent:
        client.request("GET", "conversations.history")

    assert spent.value.retry_after_s == 60.0
    assert (clock.slept, client.stats.api_calls, client.stats.rate_limited) == ([], 1, 1)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.ConnectError("connection refused"), id="connect-error"),
        pytest.param(httpx.ReadTimeout("read timed out"), id="read-timeout"),
        pytest.param(httpx.RemoteProtocolError("peer closed connection"), id="peer-hung-up"),
    ],
)
def test_transport_failures_are_transient_and_retried(clock: FakeClock, failure: Exception) -> None:
    client = make_client(Vendor(failure, OK), clock)

    assert client.request("GET", "users.list").status_code == 200
    assert (clock.slept, client.stats.api_calls) == ([0.5], 2)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        pytest.param(401, AuthError, id="401-auth"),
        pytest.param(403, AuthError, id="403-auth"),
        pytest.param(404, SourceError, id="404-source"),
        pytest.param(400, SourceError, id="400-source"),
    ],
)
def test_client_errors_are_raised_without_retry(
    clock: FakeClock, code: int, error: type[Exception]
) -> None:
    client = make_client(Vendor(status(code)), clock)

    with pytest.raises(error) as raised:
        client.request("GET", "users.list")

    assert not isinstance(raised.value, TransientError)
    assert (clock.slept, client.stats.api_calls) == ([], 1)


def slack_check(response: httpx.Response) -> None:
    """What the Slack connector's hook does: `ok: false` in a 200 body becomes our error."""
    body = response.json()
    if body["ok"]:
        return
    if body["error"] == "ratelimited":
        raise RateLimitedError("ratelimited", retry_after_s=None)
    raise AuthError(body["error"])


def test_check_hook_error_in_200_body_is_retried_like_a_429(clock: FakeClock) -> None:
    limited = httpx.Response(200, json={"ok": False, "error": "ratelimited"})
    client = make_client(Vendor(limited, OK), clock, check=slack_check)

    assert client.request("POST", "conversations.history").json() == {"ok": True}
    assert (clock.slept, client.stats.rate_limited, client.stats.api_calls) == ([5.0], 1, 2)


def test_check_hook_fatal_error_is_raised_at_once(clock: FakeClock) -> None:
    revoked = httpx.Response(200, json={"ok": False, "error": "token_revoked"})
    client = make_client(Vendor(revoked), clock, check=slack_check)

    with pytest.raises(AuthError, match="token_revoked"):
        client.request("POST", "conversations.history")

    assert (clock.slept, client.stats.api_calls) == ([], 1)


def test_tier3_bucket_spaces_calls_and_announces_each_wait(clock: FakeClock) -> None:
    heard: list[tuple[float, str]] = []
    on_wait = lambda s, r: heard.append((s, r))  # noqa: E731
    client = make_client(Vendor(OK, OK, OK, OK), clock, regime=TIER3, on_wait=on_wait)
    history = "conversations.history"

    for key in (history, history, "auth.test", history):
        client.request("POST", key, budget_key=key)

    assert clock.slept == pytest.approx([1.2, 1.2])  # auth.test has no budget in this regime
    assert heard == [(pytest.approx(1.2), "rate_budget")] * 2
    assert client.stats.waited_s == pytest.approx(2.4)


def test_slow_regime_raises_budget_spent_instead_of_sleeping_a_minute(clock: FakeClock) -> None:
    vendor = Vendor(OK, OK)
    client = make_client(vendor, clock, regime=NON_MARKETPLACE, max_wait_s=5)
    client.request("POST", "conversations.history", budget_key="conversations.history")

    with pytest.raises(BudgetSpent) as spent:
        client.request("POST", "conversations.history", budget_key="conversations.history")

    assert spent.value.retry_after_s == pytest.approx(60.0)
    assert (len(vendor.requests), client.stats.api_calls, clock.slept) == (1, 1, [])


def test_a_shared_pacer_carries_the_rate_across_clients(clock: FakeClock) -> None:
    pacer = Pacer()
    for _ in range(2):
        pace = pacer.scope("acme", "slack", TIER3, clock)
        client = make_client(Vendor(OK), clock, regime=TIER3, pacer=pace)
        client.request("POST", "conversations.history", budget_key="conversations.history")

    assert clock.slept == pytest.approx([1.2])


def test_request_cap_raises_before_sending(clock: FakeClock) -> None:
    vendor = Vendor(OK, OK, OK)
    client = make_client(vendor, clock, budget=RequestBudget(2))
    client.request("GET", "users.list"), client.request("GET", "users.list")

    with pytest.raises(BudgetSpent):
        client.request("GET", "users.list")

    assert (len(vendor.requests), client.stats.api_calls) == (2, 2)


def test_request_cap_counts_retries(clock: FakeClock) -> None:
    vendor = Vendor(status(503), status(503), OK)
    client = make_client(vendor, clock, budget=RequestBudget(2))

    with pytest.raises(BudgetSpent):
        client.request("GET", "users.list")

    assert (len(vendor.requests), clock.slept) == (2, [0.5, 1.0])


def test_on_wait_hears_every_wait_before_the_clock_moves(clock: FakeClock) -> None:
    heard: list[tuple[float, str, float]] = []
    on_wait = lambda s, r: heard.append((s, r, clock.monotonic()))  # noqa: E731
    vendor = Vendor(status(503), status(429, **{"Retry-After": "2"}), OK)
    client = make_client(vendor, clock, on_wait=on_wait)

    client.request("GET", "users.list")

    assert heard == [(0.5, "backoff", 0.0), (2.0, "retry_after", 0.5)]


def test_transport_error_text_never_carries_the_token(clock: FakeClock) -> None:
    leak = httpx.ConnectError(f"cannot reach https://slack.test/api/x?token={TOKEN}")
    client = make_client(Vendor(*[leak] * 5), clock)

    with pytest.raises(TransientError) as raised:
        client.request("GET", "users.list")

    printed = "".join(traceback.format_exception(raised.value))
    assert "ConnectError" in str(raised.value) and "[REDACTED]" in str(raised.value)
    assert TOKEN not in printed
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_error_body_echoing_the_token_is_redacted(clock: FakeClock) -> None:
    echo = httpx.Response(400, text=f"bad request: Authorization: Bearer {TOKEN}")
    client = make_client(Vendor(echo), clock)

    with pytest.raises(SourceError) as raised:
        client.request("GET", "users.list")

    assert TOKEN not in str(raised.value) and "bad request" in str(raised.value)


def test_no_token_in_log_records(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    leak = httpx.ConnectError(f"refused for token={TOKEN}")
    client = make_client(Vendor(leak, status(503), OK), clock)

    client.request("GET", "users.list", params={"token": TOKEN})

    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx logs the URL
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_missing_token_fails_before_anything_is_sent(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_TEST_TOKEN", raising=False)
    vendor = Vendor(OK)
    auth = BearerToken(env="ACME_TEST_TOKEN")
    client = make_client(vendor, clock, auth=auth, budget=RequestBudget(1))

    with pytest.raises(MissingTokenError, match="ACME_TEST_TOKEN"):
        client.request("GET", "users.list")

    assert (vendor.requests, client.stats.api_calls, client.budget.used) == ([], 0, 0)


def test_http_package_exports_exactly_the_public_names() -> None:
    assert sorted(pipeline.http.__all__) == [
        "ApiKey",
        "BearerToken",
        "CallStats",
        "Clock",
        "FakeClock",
        "HttpClient",
        "Regime",
        "RequestBudget",
        "RetryPolicy",
        "SystemClock",
    ]
