"""Adaptive pacing on a FakeClock: a scripted vendor that notes when each request arrives."""

from __future__ import annotations

import time

import httpx
import pytest

from pipeline.errors import BudgetSpent
from pipeline.http import BearerToken, FakeClock, HttpClient, Regime, RetryPolicy
from pipeline.http.pacing import Pacer, PaceScope

HISTORY = "conversations.history"
TIER3 = Regime("tier3", {HISTORY: 50}, burst=10, max_factor=4)  # documented 50/min, cap 200/min
FIXED = Regime("one_per_minute", {HISTORY: 1}, fixed=True)
OK = httpx.Response(200, json={"ok": True})


class Vendor:
    """Answers from a script (then 200s); records the fake time of every request it receives."""

    def __init__(self, clock: FakeClock, *script: httpx.Response) -> None:
        self.clock, self.script = clock, list(script)
        self.at: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.at.append(self.clock.monotonic())
        return self.script.pop(0) if self.script else OK


def limited(retry_after_s: int) -> httpx.Response:
    headers = {"Retry-After": str(retry_after_s)}
    return httpx.Response(429, headers=headers, json={"ok": False, "error": "ratelimited"})


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called; waits must go through the Clock")

    monkeypatch.setattr(time, "sleep", forbidden)


def client(vendor: Vendor, pace: PaceScope, **options: object) -> HttpClient:
    return HttpClient(
        "https://vendor.test/api/",
        auth=BearerToken("t0ken-for-tests"),
        retry=RetryPolicy(jitter=0.0),
        regime=pace.regime,
        pacer=pace,
        clock=vendor.clock,
        transport=httpx.MockTransport(vendor),
        **options,  # type: ignore[arg-type]
    )


def call(http: HttpClient, times: int = 1) -> None:
    for _ in range(times):
        http.request("POST", HISTORY, budget_key=HISTORY)


def test_without_a_429_the_rate_climbs_to_the_cap_and_stays_there() -> None:
    clock = FakeClock()
    pace = Pacer().scope("acme", "vendor", TIER3, clock)
    http = client(Vendor(clock), pace)

    call(http, 60)

    assert pace.get(HISTORY).rate_per_s == pytest.approx(200 / 60)  # 4 × the documented 50/min
    spacing = [b - a for a, b in zip(http_times(http), http_times(http)[1:], strict=False)]
    assert max(spacing[-20:]) == pytest.approx(60 / 200)  # paced at the cap, never faster


def http_times(http: HttpClient) -> list[float]:
    vendor = http._http._transport.handler  # type: ignore[attr-defined]
    return list(vendor.at)


def test_the_first_requests_go_out_as_one_burst_at_the_documented_rate() -> None:
    clock = FakeClock()
    vendor = Vendor(clock)
    call(client(vendor, Pacer().scope("acme", "vendor", TIER3, clock)), 10)

    assert vendor.at == [0.0] * 10  # burst 10: no wait for the first ten


def test_a_429_storm_cuts_the_rate_and_nothing_is_sent_before_retry_after() -> None:
    clock = FakeClock()
    vendor = Vendor(clock, *[OK] * 30, limited(7), limited(7), limited(7))
    pace = Pacer().scope("acme", "vendor", TIER3, clock)
    http = client(vendor, pace)
    call(http, 30)
    before = pace.get(HISTORY).rate_per_s
    assert before is not None

    call(http, 5)  # the first of these meets three 429s, each asking for 7 s

    storm = vendor.at[30:33]
    assert [b - a for a, b in zip(storm, vendor.at[31:34], strict=True)] == pytest.approx([7] * 3)
    after = pace.get(HISTORY).rate_per_s
    assert after is not None and after < before
    cut = min(before * 0.9, 50 / 60)  # slow start overshot: back to the documented 50/min
    assert after == pytest.approx(cut + 5 * 0.01 * 50 / 60)  # then +1 % of 50/min per request


def test_after_a_whole_window_a_429_cuts_to_what_the_vendor_accepted_in_it() -> None:
    clock = FakeClock()
    vendor = Vendor(clock, *[OK] * 10, limited(1))
    pace = Pacer().scope("acme", "vendor", TIER3, clock)
    http = client(vendor, pace, max_wait_s=30)
    call(http, 11)  # slow start overshoots: a 429, back to the documented 50/min
    clock.advance(60)  # a quiet minute
    vendor.script = [*[OK] * 40, limited(600)]
    call(http, 40)

    with pytest.raises(BudgetSpent):  # a 429 asking for 10 minutes ends the call
        call(http)

    accepted = [t for t in vendor.at[:-1] if t > vendor.at[-1] - 60]
    assert len(accepted) == 40
    assert pace.get(HISTORY).rate_per_s == pytest.approx(40 / 60)


def test_a_429_seen_by_one_client_blocks_every_client_of_that_tenant_and_method() -> None:
    clock = FakeClock()
    pacer = Pacer()
    first = Vendor(clock, limited(30))
    second = Vendor(clock)
    thread_reader = client(second, pacer.scope("acme", "vendor", TIER3, clock))
    with pytest.raises(BudgetSpent):  # one attempt only: the 429 ends this client's call
        call(client(first, pacer.scope("acme", "vendor", TIER3, clock), max_wait_s=5))

    clock.advance(10)
    call(thread_reader)

    assert second.at == [30.0]  # not before the vendor's Retry-After, though it never saw it


def test_two_tenants_never_share_a_budget() -> None:
    clock = FakeClock()
    pacer = Pacer()
    acme, globex = Vendor(clock, limited(30)), Vendor(clock)
    with pytest.raises(BudgetSpent):
        call(client(acme, pacer.scope("acme", "vendor", TIER3, clock), max_wait_s=5))
    globex_http = client(globex, pacer.scope("globex", "vendor", TIER3, clock))

    call(globex_http, 10)  # acme's block and cut are acme's

    assert globex.at == [0.0] * 10
    acme_rate = pacer.scope("acme", "vendor", TIER3, clock).get(HISTORY).rate_per_s
    globex_rate = pacer.scope("globex", "vendor", TIER3, clock).get(HISTORY).rate_per_s
    assert acme_rate is not None and globex_rate is not None and acme_rate < globex_rate


def test_a_fixed_regime_never_probes_and_still_honours_retry_after() -> None:
    clock = FakeClock()
    vendor = Vendor(clock, OK, OK, limited(90))
    pace = Pacer().scope("acme", "vendor", FIXED, clock)

    call(client(vendor, pace), 3)

    assert vendor.at == [0.0, 60.0, 120.0, 210.0]
    assert pace.get(HISTORY).rate_per_s == pytest.approx(1 / 60)


def test_a_method_the_regime_does_not_rate_is_unpaced_but_waits_out_its_retry_after() -> None:
    clock = FakeClock()
    vendor = Vendor(clock, OK, limited(12))
    http = client(vendor, Pacer().scope("acme", "vendor", None, clock))

    for _ in range(3):
        http.request("GET", "repos/o/r/issues", budget_key="repos/{scope}/issues")

    assert vendor.at == [0.0, 0.0, 12.0, 12.0]


def test_a_wait_longer_than_max_wait_ends_the_call_throttled_without_sending() -> None:
    clock = FakeClock()
    vendor = Vendor(clock, limited(600))
    pacer = Pacer()
    with pytest.raises(BudgetSpent):
        call(client(vendor, pacer.scope("acme", "vendor", TIER3, clock), max_wait_s=30))

    with pytest.raises(BudgetSpent) as spent:
        call(client(vendor, pacer.scope("acme", "vendor", TIER3, clock), max_wait_s=30))

    assert spent.value.retry_after_s == pytest.approx(600)
    assert len(vendor.at) == 1
