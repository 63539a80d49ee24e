"""Polling and webhooks converge (DESIGN §8): one change seen by both paths is one event.

The Slack sandbox (over real HTTP) is polled with `slack-messages`; its own Events API payloads
for the same changes (`sandbox/events.py`) are posted to `pipeline serve`, before or after the poll.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from connectors.slack.sandbox import Sandbox
from connectors.slack.sandbox.events import EventSender, message_event
from pipeline.http.clock import FakeClock
from pipeline.testing import Db
from tests.connectors.slack.conftest import sync
from tests.webhooks.conftest import Served, envelope


class Captured:
    """The sandbox's webhook payloads, kept to be posted when the test says."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.events: list[dict[str, Any]] = []
        sandbox.workspace.observers.append(self.observe)

    def observe(self, kind: str, channel: str, before: Any, after: Any) -> None:
        self.events.append(envelope(message_event(kind, channel, before, after)))

    def deliver(self, served: Served) -> None:
        for payload in self.events:
            assert served.post(payload).status_code == 200
        self.events.clear()
        served.apply()


def types_by_key(db: Db) -> Counter[tuple[str, str]]:
    return Counter((e["payload"]["externalId"], e["type"]) for e in db.events())


def test_webhook_then_poll_gives_one_event_per_change(
    served: Served, db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    before = types_by_key(db)
    hooks = Captured(sandbox)
    general = sandbox.channel("general")
    post = sandbox.workspace.post(general, "new message")
    reply = sandbox.workspace.reply(general, post["ts"], "a reply")
    clock.advance(60)
    hooks.deliver(served)
    sandbox.workspace.edit(general, post["ts"], "new message, edited")
    hooks.deliver(served)

    poll = sync(db, slack_url, clock)

    new = types_by_key(db) - before
    key, reply_key = f"{general}:{post['ts']}", f"{general}:{reply['ts']}"
    assert new == Counter(
        {(key, "message_created"): 1, (reply_key, "message_created"): 1, (key, "message_edited"): 1}
    )  # the post and the reply's thread fields on it were applied in one batch: one created
    assert (poll.created, poll.updated) == (0, 0)


def test_poll_then_webhook_gives_one_event_per_change(
    served: Served, db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    hooks = Captured(sandbox)
    general = sandbox.channel("general")
    post = sandbox.workspace.post(general, "polled first")
    clock.advance(60)
    sync(db, slack_url, clock)

    hooks.deliver(served)

    key = f"{general}:{post['ts']}"
    assert types_by_key(db)[(key, "message_created")] == 1
    assert [e for e in db.events() if e["payload"]["externalId"] == key][-1]["type"] == (
        "message_created"
    )


def test_deleted_by_webhook_then_absent_from_the_poll_is_one_deletion(
    served: Served, db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    general = sandbox.channel("general")
    post = sandbox.workspace.post(general, "short-lived")
    clock.advance(60)
    sync(db, slack_url, clock)
    hooks = Captured(sandbox)
    sandbox.workspace.delete(general, post["ts"])
    hooks.deliver(served)

    sync(db, slack_url, clock, lookback_days=30)

    key = f"{general}:{post['ts']}"
    assert types_by_key(db)[(key, "message_deleted")] == 1


def test_the_sandbox_sends_signed_deliveries_to_serve(
    served: Served, db: Db, sandbox: Sandbox, clock: FakeClock
) -> None:
    sender = EventSender(
        sandbox.workspace,
        f"{served.url}/webhooks/slack",
        "whsec-test-0123456789",
        now=lambda: clock.now().timestamp(),
        retry_delay_s=0,
    )
    general = sandbox.channel("general")
    post = sandbox.workspace.post(general, "sent by the sandbox")
    sandbox.workspace.react(general, post["ts"], "tada")  # reaction_added: acknowledged, ignored
    sender.flush()
    sender.close()

    served.apply()

    assert (sender.sent, sender.failed) == (2, 0)
    assert [e["type"] for e in db.events()] == ["message_created"]
