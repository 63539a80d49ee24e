"""A configured channel slack-messages cannot read makes the run `partial`, naming the channel and why
(never a silent `no_changes`); nothing of it is tombstoned (vendors.md §1.8)."""

from __future__ import annotations

from connectors.slack.sandbox import Sandbox
from pipeline.http.clock import FakeClock
from pipeline.testing import Db
from tests.connectors.slack.conftest import sync

WHY_MISSING = "not found, archived, or the app is not a member"


def test_a_configured_channel_that_does_not_exist_or_excludes_the_bot_is_named(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    watercooler = sandbox.channel("watercooler")  # the bot is not a member

    run = sync(db, slack_url, clock, channels=["C0123ABCD", watercooler])

    assert (run.status, run.created) == ("partial", 0)
    assert run.error == (
        f"could not read 2 scopes: channel C0123ABCD ({WHY_MISSING}); "
        f"channel {watercooler} ({WHY_MISSING})"
    )


def test_access_lost_mid_walk_is_partial_and_tombstones_nothing(
    db: Db, sandbox: Sandbox, slack_url: str, clock: FakeClock
) -> None:
    general = sandbox.channel("general")
    sync(db, slack_url, clock)
    clock.advance(60)
    sandbox.faults.error("not_in_channel", method="conversations.history", channel=general)

    run = sync(db, slack_url, clock)

    assert (run.status, run.deleted) == ("partial", 0)
    assert run.error == (
        f"could not read 1 scope: channel {general} "
        "(access lost mid-walk: conversations.history: not_in_channel)"
    )
