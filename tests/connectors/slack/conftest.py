"""Slack fixtures: a seeded sandbox served over real HTTP, on the test's FakeClock, and `sync`.

The sandbox's clock is linked to the engine's `FakeClock`, so a client that "sleeps" on a 429
advances both, and messages posted in a test get a `ts` from that same clock. Advance the clock
after posting so the next run's window (which ends at the engine's now) holds the new messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.slack.sandbox import TOKEN, Sandbox
from pipeline.http.clock import FakeClock
from pipeline.ledger import Run
from pipeline.orchestrator import RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.testing import Db

SIZES = {"messages_per_channel": 20}  # 3 readable channels, 77 messages, 7 threads: fast


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    """#general, #random, #engineering (private), #watercooler (bot not in it), an archived one."""
    return Sandbox(0, clock=clock.now, **SIZES)


@pytest.fixture
def slack_url(sandbox: Sandbox) -> Iterator[str]:
    """The sandbox served over real HTTP on 127.0.0.1 for the test (API at <url>/api/)."""
    with sandbox.serving() as url:
        yield url


def sync(
    db: Db, sandbox_url: str, clock: FakeClock, stream: str = "slack-messages", **config: Any
) -> Run:
    """One run of a Slack stream against the served sandbox; `config` is the subscription's."""
    connector, name = stream.split("-", 1)
    settings = {"api_url": f"{sandbox_url}/api/", "token": TOKEN, "http_clock": clock}
    return db.orchestrator.run(
        get_stream(stream),
        Subscription(connector, name, config=config),
        options=RunOptions(settings=settings),
    )


def readable_channels(sandbox: Sandbox) -> list[str]:
    """The channels slack-messages reads: the bot is a member and they are not archived."""
    return [c.id for c in sandbox.workspace.channels.values() if c.is_member and not c.is_archived]


def live_messages(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """The ground truth, keyed like the sink: `<channel>:<ts>` → message (tombstones left out)."""
    messages = sandbox.state()["messages"]
    return {
        f"{channel}:{m['ts']}": m
        for channel in readable_channels(sandbox)
        for m in messages[channel]
        if m.get("subtype") != "tombstone"
    }
