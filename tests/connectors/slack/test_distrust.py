"""Issue 10: no false tombstone from an odd vendor page, and one bad scope never starves the rest.

Each test names the finding of issue 10 it pins; all run on SQLite and PostgreSQL against the
sandbox over real HTTP, with malformed-but-`ok` answers from its fault library.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from connectors.slack.sandbox import Sandbox
from connectors.slack.tables import slack_messages
from pipeline.http.clock import FakeClock
from pipeline.testing import Db
from tests.connectors.slack.conftest import live_messages, readable_channels, sync
from tests.connectors.slack.test_messages import live, newest


def deleted_events(db: Db) -> list[str]:
    return [e["payload"]["externalId"] for e in db.events() if e["type"] == "message_deleted"]


def failed_items(db: Db, run_id: str) -> list[dict[str, object]]:
    return [i for i in db.items(run_id) if i["status"] == "failed"]


def test_empty_replies_page_with_has_more_tombstones_no_reply_and_the_thread_is_read_again(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:  # finding 1
    sync(db, slack_url, clock)
    channel, parent = newest(sandbox, thread=True)
    clock.advance(60)
    sandbox.workspace.reply(channel, parent["ts"], "one more")
    clock.advance(60)
    sandbox.faults.malformed("empty_has_more", method="conversations.replies", channel=channel)

    bad = sync(db, slack_url, clock)
    clean = sync(db, slack_url, clock)

    assert (bad.status, bad.deleted, bad.failed) == ("partial", 0, 1)
    assert f"thread {channel}:{parent['ts']}: conversations.replies: has_more" in (bad.error or "")
    assert deleted_events(db) == []
    assert (clean.status, clean.created, clean.deleted) == ("success", 1, 0)
    assert live(db) == set(live_messages(sandbox))


@pytest.mark.parametrize("shape", ["empty_has_more", "missing_list"])
def test_malformed_third_of_four_history_pages_tombstones_nothing_and_the_next_run_converges(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock, shape: str
) -> None:  # finding 2
    sync(db, slack_url, clock)
    general = sandbox.channel("general")
    clock.advance(60)
    sandbox.faults.short_pages(size=4, method="conversations.history")
    sandbox.faults.malformed(shape, method="conversations.history", channel=general, page=3)

    bad = sync(db, slack_url, clock)
    clean = sync(db, slack_url, clock)

    assert (bad.status, bad.deleted) == ("partial", 0)
    assert f"channel {general}: conversations.history" in (bad.error or "")
    assert deleted_events(db) == []
    assert (clean.status, clean.created, clean.deleted) == ("no_changes", 0, 0)
    assert live(db) == set(live_messages(sandbox))


@pytest.mark.parametrize("shape", ["missing_ts", "null_ts", "list_ts", "text_ts"])
def test_unkeyable_message_is_a_failed_item_naming_its_channel_and_other_channels_sync(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock, shape: str
) -> None:  # finding 4
    general = sandbox.channel("general")
    sandbox.faults.malformed(shape, times=None, method="conversations.history", channel=general)

    runs = [sync(db, slack_url, clock), sync(db, slack_url, clock)]

    truth = live_messages(sandbox)
    others = {k for k in truth if not k.startswith(f"{general}:")}
    assert [r.status for r in runs] == ["partial", "partial"]
    assert others <= live(db) and len(live(db)) == len(truth) - 1
    [item] = failed_items(db, runs[0].id)
    assert str(item["external_id"]).startswith(f"{general}:?ts=")
    assert f"channel {general}: a record with no usable ts" in str(item["error"])
    assert f"channel {general}" in (runs[0].error or "") and deleted_events(db) == []


def test_integer_ts_on_a_stored_message_deletes_nothing_and_says_why(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:  # finding 5
    sync(db, slack_url, clock)
    general = sandbox.channel("general")
    clock.advance(60)
    sandbox.faults.malformed("int_ts", method="conversations.history", channel=general, page=1)

    run = sync(db, slack_url, clock)

    assert (run.status, run.deleted, run.failed) == ("partial", 0, 1)
    assert live(db) == set(live_messages(sandbox)) and deleted_events(db) == []
    assert f"channel {general}: messages without a usable ts" in (run.error or "")
    assert f"{general}:?ts=" in str(failed_items(db, run.id)[0]["external_id"])


def test_channel_answering_500_forever_goes_last_and_never_starves_the_others(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:  # finding 4, second half
    general = sandbox.channel("general")
    sandbox.faults.fail(times=None, method="conversations.history", channel=general)

    first = sync(db, slack_url, clock)
    sandbox.app.journal.clear()
    second = sync(db, slack_url, clock)

    others = {k for k in live_messages(sandbox) if not k.startswith(f"{general}:")}
    assert (first.status, second.status) == ("partial", "partial")
    assert live(db) == others
    assert f"channel {general}: HTTP 503" in (second.error or "")
    order = [c["params"]["channel"] for c in sandbox.app.journal if "channel" in c["params"]]
    assert order[-1] == general and set(order) == set(readable_channels(sandbox))


def test_every_channel_failing_fails_the_run(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sandbox.faults.fail(times=None, method="conversations.history")

    run = sync(db, slack_url, clock)

    assert (run.status, run.created) == ("failed", 0)
    assert all(f"channel {c}: HTTP 503" in (run.error or "") for c in readable_channels(sandbox))


def test_replies_vanishing_against_the_parents_reply_count_sweep_nothing_and_are_read_again(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    channel, parent = newest(sandbox, thread=True)
    clock.advance(60)
    sandbox.workspace.reply(channel, parent["ts"], "moves the counters")
    clock.advance(60)
    sandbox.faults.malformed("lost_replies", method="conversations.replies", channel=channel)

    bad = sync(db, slack_url, clock)
    clean = sync(db, slack_url, clock)

    assert (bad.status, bad.deleted) == ("partial", 0)
    assert f"thread {channel}:{parent['ts']}" in (bad.error or "") and deleted_events(db) == []
    assert (clean.status, clean.created, clean.deleted) == ("success", 1, 0)
    assert live(db) == set(live_messages(sandbox))


def test_thread_whose_stored_replies_fall_short_of_reply_count_is_read_again(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock)
    channel, parent = newest(sandbox, thread=True)
    t = slack_messages.c
    with db.engine.begin() as conn:  # the damage an old run did (issue 10, finding 1)
        conn.execute(
            sa.update(slack_messages)
            .where(t.channel == channel, t.thread_ts == parent["ts"], t.is_reply.is_(True))
            .values(deleted_at=clock.now(), delete_reason="absent")
        )
    clock.advance(60)

    run = sync(db, slack_url, clock)

    assert (run.status, run.created) == ("success", parent["reply_count"])
    assert live(db) == set(live_messages(sandbox))


def test_non_marketplace_detects_deletions_in_a_window_walked_over_many_runs(
    db: Db, clock: FakeClock
) -> None:  # finding 3
    sandbox = Sandbox(0, regime="non_marketplace", clock=clock.now, messages_per_channel=40)
    general = sandbox.channel("general")

    def truth() -> set[str]:
        return {k for k in live_messages(sandbox) if k.startswith(f"{general}:")}

    def run_until(done: object, limit: int = 40) -> list[str]:
        statuses = []
        while not done() and len(statuses) < limit:  # type: ignore[operator]
            run = sync(db, url, clock, regime="non_marketplace", channels=[general])
            statuses.append(run.status)
            clock.advance(60)
        return statuses

    with sandbox.serving() as url:
        run_until(lambda: live(db) == truth())
        plain = [m["ts"] for m in sandbox.state()["messages"][general] if "thread_ts" not in m]
        gone = [plain[-1], plain[-17]]  # on pages 1 and 2 of the next window (15 per page)
        for ts in gone:
            sandbox.workspace.delete(general, ts)
        statuses = run_until(lambda: live(db) == truth())

    assert live(db) == truth() and len(statuses) >= 2
    assert sorted(deleted_events(db)) == sorted(f"{general}:{ts}" for ts in gone)
