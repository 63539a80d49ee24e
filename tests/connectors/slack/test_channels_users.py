"""slack-channels and slack-users against the sandbox over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from connectors.slack.sandbox import Sandbox
from connectors.slack.tables import slack_channels, slack_users
from pipeline.http.clock import FakeClock
from pipeline.testing import Db
from tests.connectors.slack.conftest import sync


def test_first_channels_sync_stores_every_visible_channel(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    run = sync(db, slack_url, clock, "slack-channels")

    channels = db.entities(slack_channels)
    assert (run.status, run.created) == ("success", 5)
    assert set(channels) == set(sandbox.workspace.channels)
    watercooler = channels[sandbox.channel("watercooler")]
    assert (watercooler["name"], watercooler["is_member"], watercooler["is_archived"]) == (
        "watercooler",
        False,
        False,
    )
    assert channels[sandbox.channel("engineering")]["is_private"] is True
    assert {e["type"] for e in db.events(run.id)} == {"channel_created"}


def test_archived_channel_emits_channel_edited_is_archived(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock, "slack-channels")
    sandbox.workspace.archive(sandbox.channel("random"))

    run = sync(db, slack_url, clock, "slack-channels")

    assert (run.status, run.created, run.updated, run.deleted) == ("success", 0, 1, 0)
    [event] = db.events(run.id)
    assert (event["type"], event["payload"]["externalId"]) == (
        "channel_edited",
        sandbox.channel("random"),
    )
    assert event["payload"]["changedFields"] == {"is_archived": {"from": False, "to": True}}
    assert db.entities(slack_channels)[sandbox.channel("random")]["is_archived"] is True


def test_first_users_sync_stores_every_member_including_bots_and_deactivated(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    run = sync(db, slack_url, clock, "slack-users")

    users = db.entities(slack_users)
    truth = {u["id"]: u for u in sandbox.state()["users"]}
    assert (run.status, run.created, set(users)) == ("success", len(truth), set(truth))
    assert {uid for uid, row in users.items() if row["deleted"]} == {
        uid for uid, u in truth.items() if u["deleted"]
    }
    assert users[sandbox.workspace.bot_user_id]["is_bot"] is True
    assert all(row["deleted_at"] is None for row in users.values())  # deactivated ≠ tombstoned


def test_deactivated_user_emits_user_edited_deleted_true(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    sync(db, slack_url, clock, "slack-users")
    user = sandbox.workspace.default_user()
    clock.advance(3600)
    sandbox.workspace.deactivate_user(user)

    run = sync(db, slack_url, clock, "slack-users")

    assert (run.status, run.updated, run.deleted) == ("success", 1, 0)
    [event] = db.events(run.id)
    assert (event["type"], event["payload"]["externalId"]) == ("user_edited", user)
    changed = event["payload"]["changedFields"]
    assert set(changed) == {"deleted", "updated"} and changed["deleted"] == {
        "from": False,
        "to": True,
    }
    assert db.entities(slack_users)[user]["deleted"] is True
