"""Slack events arrive late or out of order (vendors.md §1.7), and only for the channels a
subscription syncs: a late `message_changed` never resurrects a deleted message (the poll still
restores one the vendor lists), and an event of a channel outside `channels` is not stored."""

from __future__ import annotations

from collections import Counter

from connectors.slack.sandbox import Sandbox
from connectors.slack.tables import slack_messages
from pipeline.http.clock import FakeClock
from pipeline.subscriptions import Subscription, ensure_subscription
from pipeline.testing import Db
from tests.connectors.slack.conftest import sync
from tests.webhooks.conftest import Served, changed, deleted, envelope, message

TS = "1767225000.000100"
KEY = f"C1:{TS}"
LATE_EDIT = {"ts": TS, "text": "edited before the deletion", "edited": {"user": "U1", "ts": TS}}


def events_of(db: Db, key: str) -> list[str]:
    return [e["type"] for e in db.events() if e["payload"]["externalId"] == key]


def test_a_late_message_changed_after_message_deleted_keeps_it_deleted(
    served: Served, db: Db
) -> None:
    served.post(envelope(message(text="hello")))
    served.apply()
    served.post(envelope(deleted("C1", TS)))
    served.apply()

    served.post(envelope(changed("C1", LATE_EDIT)))  # sent before the deletion, delivered after
    [run] = served.apply()

    row = db.entities(slack_messages)[KEY]
    assert (row["deleted_at"] is not None, row["data"]["text"]) == (True, "hello")
    assert events_of(db, KEY) == ["message_created", "message_deleted"]
    assert (db.run_row(run.id)["noop"], db.run_row(run.id)["created"]) == (1, 0)
    assert {r["status"] for r in served.inbox()} == {"applied"}


def test_a_deletion_and_a_late_edit_in_one_batch_delete_the_message(served: Served, db: Db) -> None:
    served.post(envelope(message(text="hello")))
    served.apply()

    served.post(envelope(deleted("C1", TS)))
    served.post(envelope(changed("C1", LATE_EDIT)))
    served.apply()

    assert db.entities(slack_messages)[KEY]["deleted_at"] is not None
    assert events_of(db, KEY) == ["message_created", "message_deleted"]


def test_an_edit_of_a_live_message_still_applies(served: Served, db: Db) -> None:
    served.post(envelope(message(text="hello")))
    served.apply()

    served.post(envelope(changed("C1", LATE_EDIT)))
    served.apply()

    assert events_of(db, KEY) == ["message_created", "message_edited"]


def test_the_poll_restores_a_message_the_vendor_still_lists(
    served: Served, db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    general = sandbox.channel("general")
    post = sandbox.workspace.post(general, "still there")
    clock.advance(60)
    sync(db, slack_url, clock)
    key = f"{general}:{post['ts']}"
    served.post(envelope(deleted(general, post["ts"])))  # a deletion Slack never made
    served.post(envelope(changed(general, {"ts": post["ts"], "text": "still there"})))
    served.apply()
    assert db.entities(slack_messages)[key]["deleted_at"] is not None

    sync(db, slack_url, clock)

    assert db.entities(slack_messages)[key]["deleted_at"] is None
    assert events_of(db, key) == ["message_created", "message_deleted", "message_created"]


def test_events_of_a_channel_the_subscription_does_not_sync_are_not_stored(
    served: Served, db: Db
) -> None:
    sub = Subscription("slack", "messages", config={"channels": ["C1"]})
    ensure_subscription(db.engine, sub, db.clock.now())

    for channel in ("C1", "C2"):
        served.post(envelope(message(channel=channel, text=f"in {channel}")))
    served.post(envelope(deleted("C2", TS)))
    [run] = served.apply()

    assert set(db.entities(slack_messages)) == {KEY}
    assert Counter(e["type"] for e in db.events()) == Counter({"message_created": 1})
    assert (db.run_row(run.id)["records_found"], db.run_row(run.id)["status"]) == (1, "success")
    assert [r["status"] for r in served.inbox()] == ["applied"] * 3


def test_a_subscription_without_channels_takes_every_channel(served: Served, db: Db) -> None:
    for channel in ("C1", "C2"):
        served.post(envelope(message(channel=channel)))

    served.apply()

    assert set(db.entities(slack_messages)) == {KEY, f"C2:{TS}"}


def test_a_batch_of_only_ignored_events_is_applied_and_stores_nothing(
    served: Served, db: Db
) -> None:
    sub = Subscription("slack", "messages", config={"channels": ["C1"]})
    ensure_subscription(db.engine, sub, db.clock.now())
    served.post(envelope(message(channel="C2")))

    [run] = served.apply()

    assert db.entities(slack_messages) == {} and db.events() == []
    assert db.run_row(run.id)["status"] == "no_changes"
    assert [r["status"] for r in served.inbox()] == ["applied"]
