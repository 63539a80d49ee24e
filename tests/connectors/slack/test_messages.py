"""slack-messages against the sandbox over real HTTP, on SQLite and PostgreSQL (vendors.md §1.8)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from connectors.slack.sandbox import Sandbox
from connectors.slack.tables import slack_messages
from pipeline.db import create_engine
from pipeline.http.clock import FakeClock
from pipeline.subscriptions import Subscription
from pipeline.testing import Db
from tests.connectors.slack.conftest import live_messages, readable_channels, sync


def newest(
    sandbox: Sandbox, *, thread: bool = False, channel: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The newest top-level message: a thread parent, or a plain one (no thread, reaction or edit)."""
    plain = {"thread_ts", "subtype", "reactions", "edited"}
    found = [
        (m["ts"], cid, m)
        for cid in ([channel] if channel else readable_channels(sandbox))
        for m in sandbox.state()["messages"][cid]
        if (m.get("reply_count") if thread else not plain & m.keys())
    ]
    _, cid, message = max(found, key=lambda f: f[0])
    return cid, message


def messages(db: Db) -> dict[str, dict[str, Any]]:
    return db.entities(slack_messages)


def live(db: Db) -> set[str]:
    return {key for key, row in messages(db).items() if row["deleted_at"] is None}


def event_types(db: Db, run_id: str) -> Counter[tuple[str, str]]:
    return Counter((e["type"], e["payload"]["externalId"]) for e in db.events(run_id))


def test_first_sync_stores_every_message_and_reply_of_the_channels_the_bot_reads(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    truth = live_messages(sandbox)

    run = sync(db, slack_url, clock)

    assert (run.status, run.created, run.deleted, run.failed) == ("success", len(truth), 0, 0)
    assert live(db) == set(truth)
    created = Counter(
        e["payload"]["externalId"] for e in db.events(run.id) if e["type"] == "message_created"
    )
    assert set(created.values()) == {1} and set(created) == set(truth)
    watercooler = sandbox.channel("watercooler")
    assert not any(call["params"].get("channel") == watercooler for call in sandbox.app.journal)
    broadcasts = [key for key, m in truth.items() if m.get("subtype") == "thread_broadcast"]
    assert broadcasts and all(messages(db)[key]["is_reply"] for key in broadcasts)


def test_rows_are_keyed_channel_ts_and_fill_the_typed_columns(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    channel, parent = newest(sandbox, thread=True)
    reply_ts = parent["latest_reply"]

    sync(db, slack_url, clock)

    rows = messages(db)
    row, reply = rows[f"{channel}:{parent['ts']}"], rows[f"{channel}:{reply_ts}"]
    assert (row["channel"], row["ts"], row["thread_ts"], row["is_reply"]) == (
        channel,
        parent["ts"],
        parent["ts"],
        False,
    )
    assert (row["user"], row["text"], row["reply_count"], row["latest_reply"]) == (
        parent["user"],
        parent["text"],
        parent["reply_count"],
        reply_ts,
    )
    assert (reply["thread_ts"], reply["is_reply"], reply["data"]["parent_user_id"]) == (
        parent["ts"],
        True,
        parent["user"],
    )


def test_edited_text_and_a_new_reaction_emit_message_edited_with_exactly_those_fields(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    channel, message = newest(sandbox, channel=sandbox.channel("general"))
    _, reacted = newest(sandbox, channel=sandbox.channel("random"))
    clock.advance(60)
    sandbox.workspace.edit(channel, message["ts"], "fixed the typo ✏️")
    sandbox.workspace.react(sandbox.channel("random"), reacted["ts"], "rocket")

    run = sync(db, slack_url, clock)

    assert (run.status, run.created, run.updated, run.deleted) == ("success", 0, 2, 0)
    changed = {e["payload"]["externalId"]: e["payload"]["changedFields"] for e in db.events(run.id)}
    text_edit = changed[f"{channel}:{message['ts']}"]
    assert set(text_edit) == {"text", "blocks", "edited_ts", "edited_by"}
    assert text_edit["text"] == {"from": message["text"], "to": "fixed the typo ✏️"}
    reaction = changed[f"{sandbox.channel('random')}:{reacted['ts']}"]
    assert list(reaction) == ["reactions"] and reaction["reactions"]["to"][0]["name"] == "rocket"
    assert {e["type"] for e in db.events(run.id)} == {"message_edited"}


def test_deleted_message_emits_message_deleted_and_keeps_a_tombstoned_row(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    channel, message = newest(sandbox)
    sandbox.workspace.delete(channel, message["ts"])
    clock.advance(60)

    run = sync(db, slack_url, clock)

    key = f"{channel}:{message['ts']}"
    assert (run.status, run.deleted, run.updated) == ("success", 1, 0)
    assert event_types(db, run.id) == Counter({("message_deleted", key): 1})
    assert "changedFields" not in db.events(run.id)[0]["payload"]
    row = messages(db)[key]
    assert row["deleted_at"] is not None and row["delete_reason"] == "absent"


def test_deleted_thread_parent_becomes_a_tombstone_and_its_replies_are_kept(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    channel, parent = newest(sandbox, thread=True)
    replies = {
        k for k, row in messages(db).items() if row["thread_ts"] == parent["ts"] and row["is_reply"]
    }
    sandbox.workspace.delete(channel, parent["ts"])
    clock.advance(60)

    run = sync(db, slack_url, clock)

    key = f"{channel}:{parent['ts']}"
    assert (run.status, run.deleted) == ("success", 1)
    assert event_types(db, run.id) == Counter({("message_deleted", key): 1})
    assert messages(db)[key]["delete_reason"] == "tombstone"
    assert len(replies) == parent["reply_count"] and replies <= live(db)


def test_reply_to_an_existing_thread_creates_the_reply_and_edits_the_parent(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    channel, parent = newest(sandbox, thread=True)
    newcomer = next(
        u["id"]
        for u in sandbox.state()["users"]
        if u["id"].startswith("U0")
        and not (u["deleted"] or u["is_bot"] or u["id"] in parent["reply_users"])
    )
    clock.advance(60)
    reply = sandbox.workspace.reply(channel, parent["ts"], "late to the party", user=newcomer)
    clock.advance(60)

    run = sync(db, slack_url, clock)

    parent_key, reply_key = f"{channel}:{parent['ts']}", f"{channel}:{reply['ts']}"
    assert (run.status, run.created, run.updated) == ("success", 1, 1)
    assert event_types(db, run.id) == Counter(
        {("message_created", reply_key): 1, ("message_edited", parent_key): 1}
    )
    [edited] = [e for e in db.events(run.id) if e["type"] == "message_edited"]
    assert set(edited["payload"]["changedFields"]) == {"reply_count", "latest_reply", "reply_users"}
    assert edited["payload"]["changedFields"]["latest_reply"] == {
        "from": parent["latest_reply"],
        "to": reply["ts"],
    }


def test_second_run_without_changes_emits_nothing_and_ends_no_changes(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    clock.advance(3600)

    run = sync(db, slack_url, clock)

    assert (run.status, run.created, run.updated, run.deleted) == ("no_changes", 0, 0, 0)
    assert db.events(run.id) == [] and db.items(run.id) == []


def test_429_storm_waits_out_retry_after_on_the_fake_clock(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sandbox.faults.ratelimit_storm(times=3, retry_after_s=5, method="conversations.history")
    started = time.monotonic()

    run = sync(db, slack_url, clock)

    assert (run.status, live(db)) == ("success", set(live_messages(sandbox)))
    assert [round(s) for s in clock.slept if s >= 5] == [5, 5, 5]  # Retry-After plus < 10 % jitter
    assert time.monotonic() - started < 5  # ≥ 15 s of waits, none of them real
    assert db.run_row(run.id)["rate_limited"] == 3


def test_persistent_5xx_mid_walk_fails_that_channel_tombstones_nothing_and_the_next_run_resumes(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    general = sandbox.channel("general")
    top_level = [
        m for m in sandbox.state()["messages"][general] if m.get("thread_ts", m["ts"]) == m["ts"]
    ]
    old = top_level[-6]  # on history page 3 of 2 messages, past the failing page 2
    sandbox.workspace.edit(general, old["ts"], "edited while Slack was down")
    clock.advance(60)
    sandbox.faults.short_pages(size=2, method="conversations.history")
    sandbox.faults.fail(times=None, method="conversations.history", channel=general, page=2)

    failed = sync(db, slack_url, clock)
    sandbox.faults.clear()
    resumed = sync(db, slack_url, clock)

    assert (failed.status, failed.deleted, failed.updated, failed.failed) == ("partial", 0, 0, 1)
    assert f"channel {general}: HTTP 503" in (failed.error or "")
    assert live(db) == set(live_messages(sandbox))  # nothing was ever tombstoned
    assert resumed.checkpoint_before["channels"][general]["window"]["cursor"]
    assert (resumed.status, resumed.updated, resumed.deleted) == ("success", 1, 0)
    assert messages(db)[f"{general}:{old['ts']}"]["text"] == "edited while Slack was down"


def test_invalid_cursor_restarts_the_window_without_losing_or_repeating_anything(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sandbox.faults.short_pages(size=5, method="conversations.history")
    sandbox.faults.invalid_cursor(
        method="conversations.history", channel=sandbox.channel("general"), page=3
    )

    run = sync(db, slack_url, clock)

    assert (run.status, run.deleted, live(db)) == ("success", 0, set(live_messages(sandbox)))
    assert set(Counter(e["payload"]["externalId"] for e in db.events()).values()) == {1}
    assert sandbox.metrics()["errors"] == {"invalid_cursor": 1}


def test_non_marketplace_runs_end_throttled_and_together_sync_everything_once(
    db: Db, clock: FakeClock
) -> None:
    sandbox = Sandbox(0, regime="non_marketplace", clock=clock.now, messages_per_channel=8)
    runs = []
    with sandbox.serving() as url:
        while live(db) != set(live_messages(sandbox)) and len(runs) < 30:
            runs.append(sync(db, url, clock, regime="non_marketplace"))
            clock.advance(60)

    assert live(db) == set(live_messages(sandbox))
    assert {r.status for r in runs} == {"throttled"} and not any(r.error for r in runs)
    created = Counter(
        e["payload"]["externalId"] for e in db.events() if e["type"] == "message_created"
    )
    assert set(created) == set(live_messages(sandbox)) and set(created.values()) == {1}


def test_deleting_most_of_a_channel_trips_the_guard_and_tombstones_nothing(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    general = sandbox.channel("general")
    for m in sandbox.state()["messages"][general]:
        if "thread_ts" not in m:  # plain top-level messages: their absence is the only signal
            sandbox.workspace.delete(general, m["ts"])
    clock.advance(60)

    run = sync(db, slack_url, clock)

    assert (run.status, run.deleted) == ("partial", 0)
    assert [e for e in db.events(run.id) if e["type"] == "message_deleted"] == []
    assert f"channel {general} window" in run.error and "nothing was tombstoned" in run.error
    assert all(row["deleted_at"] is None for row in messages(db).values())


def test_ts_are_kept_and_ordered_as_exact_decimal_strings(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    general = sandbox.channel("general")
    clock.advance(60)
    posted = [sandbox.workspace.post(general, f"burst {i}")["ts"] for i in range(3)]  # 1 µs apart
    clock.advance(60)

    sync(db, slack_url, clock)

    assert posted[2][-6:] == "000002" and all(f"{general}:{ts}" in live(db) for ts in posted)
    assert [messages(db)[f"{general}:{ts}"]["ts"] for ts in posted] == posted
    assert (
        db.checkpoint(Subscription("slack", "messages"))["channels"][general]["high_water"]
        == posted[2]
    )


def test_window_across_a_change_of_digit_count_still_detects_deletes(db_url: str) -> None:
    clock = FakeClock(datetime.fromtimestamp(1_000_000_000 + 3 * 86400, UTC))
    sandbox = Sandbox(0, clock=clock.now, messages_per_channel=20)
    general = sandbox.channel("general")
    engine = create_engine(db_url)
    db = Db(engine, clock)
    with sandbox.serving() as url:
        sync(db, url, clock)
        top = [m["ts"] for m in sandbox.state()["messages"][general] if "thread_ts" not in m]
        gone = [
            max(t for t in top if len(t) == 16),
            min(t for t in top if len(t) == 17),
        ]  # 9 and 10 digits
        for ts in gone:
            sandbox.workspace.delete(general, ts)
        clock.advance(60)
        run = sync(db, url, clock)
    try:
        assert run.deleted == 2 and {f"{general}:{ts}" for ts in gone}.isdisjoint(live(db))
    finally:
        engine.dispose()
