"""Adaptive pacing through real runs against the served sandbox, on both databases: Slack's 429 is
remembered per tenant and method, and the next run on a new engine (another process) starts from
the learned rate and sends nothing before the `Retry-After` the first one was given."""

from __future__ import annotations

import pytest

from connectors.slack.client import REGIMES
from connectors.slack.sandbox import TOKEN, Sandbox
from pipeline.http.clock import FakeClock
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import DEFAULT_TENANT, Subscription
from pipeline.tables import rate_limits
from pipeline.testing import Db
from tests.connectors.slack.conftest import sync

HISTORY = "conversations.history"


def history_calls(sandbox: Sandbox) -> list[float]:
    return [c["at"] for c in sandbox.app.journal if c["method"] == HISTORY]


def test_a_429_outlives_its_run_and_the_next_process_starts_from_what_was_learned(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sandbox.faults.ratelimit_storm(times=1, retry_after_s=40, method=HISTORY)
    first = sync(db, slack_url, clock)  # 40 s is past max_wait_s (30): the run ends throttled
    limited_at = history_calls(sandbox)[-1]
    row = next(r for r in db.rows(rate_limits.select()) if r["method"] == HISTORY)
    clock.advance(15)

    other_process = Orchestrator(db.engine, clock)
    pace = other_process.pacer.scope(DEFAULT_TENANT, "slack", REGIMES["tier3"], clock)
    learned = pace.get(HISTORY).rate_per_s
    settings = {"api_url": f"{slack_url}/api/", "token": TOKEN, "http_clock": clock}
    second = other_process.run(
        get_stream("slack-messages"),
        Subscription("slack", "messages"),
        options=RunOptions(settings=settings),
    )

    assert (first.status, db.run_row(first.id)["rate_limited"]) == ("throttled", 1)
    assert (row["tenant_id"], row["connector"], row["regime"]) == (DEFAULT_TENANT, "slack", "tier3")
    assert row["blocked_until"] is not None and learned == pytest.approx(row["rate_per_s"])
    assert second.status == "success"
    assert min(history_calls(sandbox)[-3:]) >= limited_at + 40  # none before Retry-After


def test_each_tenant_gets_its_own_rows(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    settings = {"api_url": f"{slack_url}/api/", "token": TOKEN, "http_clock": clock}
    db.orchestrator.run(
        get_stream("slack-messages"),
        Subscription("slack", "messages", tenant_id="globex"),
        options=RunOptions(settings=settings),
    )

    tenants = {(r["tenant_id"], r["method"]) for r in db.rows(rate_limits.select())}

    assert {(DEFAULT_TENANT, HISTORY), ("globex", HISTORY)} <= tenants
