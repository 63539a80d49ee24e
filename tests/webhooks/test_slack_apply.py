"""Applying Slack deliveries through the page transaction (DESIGN §4, §8; vendors.md §1.7)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import sqlalchemy as sa

from connectors.slack.sandbox.events import APP_ID
from connectors.slack.tables import slack_messages
from pipeline import cli
from pipeline.testing import Db
from tests.webhooks.conftest import BOT_USER, Served, changed, deleted, envelope, message

KEY = "C1:1767225000.000100"


def messages(db: Db) -> dict[str, dict]:  # type: ignore[type-arg]
    return db.entities(slack_messages)


def test_new_message_is_created_in_one_webhook_run(served: Served, db: Db) -> None:
    served.post(envelope(message(text="hello")))

    [run] = served.apply()

    row = db.run_row(run.id)
    assert (row["status"], row["created"], row["pages"], row["checkpoint_after"]) == (
        "success",
        1,
        1,
        None,
    )
    [event] = db.events()
    assert (event["type"], event["payload"]["externalId"]) == ("message_created", KEY)
    assert messages(db)[KEY]["data"]["text"] == "hello"
    assert [r["status"] for r in served.inbox()] == ["applied"]


def test_deliveries_waiting_together_are_one_run_applied_in_order(served: Served, db: Db) -> None:
    served.post(envelope(message(text="v1")))
    served.post(envelope(changed("C1", {"ts": "1767225000.000100", "text": "v2"})))
    served.post(envelope(message(ts="1767225001.000100")))

    [run] = served.apply()

    assert (db.run_row(run.id)["created"], messages(db)[KEY]["data"]["text"]) == (2, "v2")
    assert {r["run_id"] for r in served.inbox()} == {run.id}


def test_message_changed_updates_only_the_fields_it_carries(served: Served, db: Db) -> None:
    reactions = [{"name": "tada", "users": ["U2"], "count": 1}]
    served.post(envelope(message(text="hello", reactions=reactions)))
    served.apply()
    edit = {
        "ts": "1767225000.000100",
        "text": "hello!",
        "edited": {"user": "U1", "ts": "1767225100.000000"},
    }

    served.post(envelope(changed("C1", edit)))
    [run] = served.apply()

    [event] = db.events(run.id)
    assert event["type"] == "message_edited"
    assert event["payload"]["changedFields"] == {
        "text": {"from": "hello", "to": "hello!"},
        "edited_ts": {"from": None, "to": "1767225100.000000"},
        "edited_by": {"from": None, "to": "U1"},
    }
    data = messages(db)[KEY]["data"]
    assert (data["reactions"], data["user"], data["edited_ts"]) == (
        reactions,
        "U1",
        "1767225100.000000",
    )


def test_a_later_change_without_edited_keeps_the_stored_edit(served: Served, db: Db) -> None:
    edited = {"user": "U1", "ts": "1767225100.000000"}
    served.post(envelope(message(text="v2", edited=edited)))
    served.apply()

    served.post(envelope(changed("C1", {"ts": "1767225000.000100", "reply_count": 1})))
    [run] = served.apply()

    [event] = db.events(run.id)
    assert event["payload"]["changedFields"] == {"reply_count": {"from": None, "to": 1}}
    assert messages(db)[KEY]["data"]["edited_ts"] == "1767225100.000000"


def test_message_deleted_tombstones_with_reason_webhook(served: Served, db: Db) -> None:
    served.post(envelope(message()))
    served.apply()

    served.post(envelope(deleted("C1", "1767225000.000100")))
    [run] = served.apply()

    row = messages(db)[KEY]
    assert (row["deleted_at"] is not None, row["delete_reason"]) == (True, "webhook")
    assert [e["type"] for e in db.events(run.id)] == ["message_deleted"]


def test_deleting_an_unknown_message_is_a_noop(served: Served, db: Db) -> None:
    served.post(envelope(deleted("C1", "1767225000.000100")))

    [run] = served.apply()

    assert (db.run_row(run.id)["status"], db.run_row(run.id)["noop"], db.events()) == (
        "no_changes",
        1,
        [],
    )


def test_a_parent_left_as_tombstone_is_deleted(served: Served, db: Db) -> None:
    served.post(envelope(message()))
    served.apply()
    tombstone = {
        "ts": "1767225000.000100",
        "subtype": "tombstone",
        "hidden": True,
        "user": "USLACKBOT",
    }

    served.post(envelope(changed("C1", tombstone)))
    served.apply()

    assert messages(db)[KEY]["delete_reason"] == "webhook"


def test_thread_reply_is_stored_as_a_reply_of_its_parent(served: Served, db: Db) -> None:
    reply = message(ts="1767225050.000200", thread_ts="1767225000.000100", parent_user_id="U1")

    served.post(envelope(reply))
    served.apply()

    data = messages(db)["C1:1767225050.000200"]["data"]
    assert (data["is_reply"], data["thread_ts"], data["parent_user_id"]) == (
        True,
        "1767225000.000100",
        "U1",
    )


def test_our_own_bot_message_is_skipped_with_no_event(served: Served, db: Db) -> None:
    ours = message(user=BOT_USER, bot_id="B0SANDBOT", app_id=APP_ID, text="automated")
    theirs = message(ts="1767225001.000100", text="human")

    served.post(envelope(ours))
    served.post(envelope(theirs))
    [run] = served.apply()

    row = db.run_row(run.id)
    assert (row["created"], row["skipped"]) == (1, 1)
    assert [e["payload"]["externalId"] for e in db.events()] == ["C1:1767225001.000100"]
    assert list(messages(db)) == ["C1:1767225001.000100"]
    statuses = {i["external_id"]: i["status"] for i in db.items(run.id)}
    assert statuses[KEY] == "skipped"


def test_an_edit_made_by_our_bot_is_skipped(served: Served, db: Db) -> None:
    served.post(envelope(message()))
    served.apply()
    edit = {
        "ts": "1767225000.000100",
        "text": "fixed by bot",
        "edited": {"user": BOT_USER, "ts": "1767225100.0"},
    }

    served.post(envelope(changed("C1", edit)))
    [run] = served.apply()

    assert (db.run_row(run.id)["skipped"], db.events(run.id)) == (1, [])


def test_an_invalid_record_is_kept_failed_with_its_error_and_shown_by_runs_show(
    served: Served, db: Db
) -> None:
    served.post(envelope(message(ts="not-a-ts"), event_id="EvBAD"))
    served.post(envelope(message(), event_id="EvGOOD"))

    [run] = served.apply()

    assert (db.run_row(run.id)["status"], db.run_row(run.id)["failed"]) == ("partial", 1)
    bad, good = served.inbox()
    assert (bad["status"], good["status"]) == ("failed", "applied")
    assert "not a Slack ts" in bad["error"]
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(
            ["runs", "show", run.id, "--db", str(db.engine.url.render_as_string(False))]
        )
    assert code == 0
    assert "delivery slack EvBAD failed" in out.getvalue() and "not a Slack ts" in out.getvalue()
    assert served.apply() == []  # a failed delivery is kept, not retried forever


def test_a_delivery_applied_twice_by_two_appliers_emits_one_event(served: Served, db: Db) -> None:
    from pipeline.webhooks.applier import Applier

    served.post(envelope(message()))
    served.apply()
    db.engine.dispose()
    with db.engine.begin() as conn:  # as if the row were never marked: the hash gate still holds
        conn.execute(sa.text("UPDATE integration_inbox SET status = 'pending'"))

    Applier(db.engine, db.clock).apply_pending()

    assert [e["type"] for e in db.events()] == ["message_created"]


def test_two_appliers_racing_over_three_tenants_apply_each_delivery_once(
    served: Served, db: Db
) -> None:
    import threading

    from pipeline.webhooks.applier import Applier

    for n in range(30):
        ts = f"1767225000.{n:06d}"
        served.post(envelope(message(ts=ts)), tenant=f"t{n % 3}")
    appliers = [Applier(db.engine, db.clock, batch_size=4) for _ in range(2)]
    threads = [threading.Thread(target=a.apply_pending) for a in appliers]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.clock.advance(120)  # claims of a run that lost a race expire (claim TTL 60 s)
    served.apply()  # and whatever was left is applied, once

    created = [(e["tenant_id"], e["payload"]["externalId"]) for e in db.events()]
    assert len(created) == len(set(created)) == 30
    assert {r["status"] for r in served.inbox()} == {"applied"}
