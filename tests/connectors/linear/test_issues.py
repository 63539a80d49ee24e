"""`linear-issues` end to end on both databases against the sandbox (issue 12, DESIGN §7):
edits read by name, archive / trash / restore / purge, RATELIMITED, partial answers, complexity."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.linear.sandbox import Sandbox
from pipeline.testing import Db

from .conftest import entities, sync

HOUR_S = 3600.0


def live(sandbox: Sandbox) -> set[str]:
    return {i["id"] for i in sandbox.state()["issues"] if not i["archivedAt"]}


def one_in(sandbox: Sandbox, state: str) -> dict[str, Any]:
    return next(
        i for i in sandbox.state()["issues"] if i["state"]["name"] == state and not i["archivedAt"]
    )


def test_first_sync_stores_every_live_issue_with_typed_columns(db: Db, sandbox: Sandbox) -> None:
    run = sync(db, sandbox)

    rows = entities(db)
    assert (run.status, run.created, run.api_calls) == ("success", len(live(sandbox)), 1)
    assert set(rows) == live(sandbox)
    issue = sandbox.issue("ENG-1")
    row = rows[issue["id"]]
    assert (row["identifier"], row["team_key"], row["state"]) == (
        "ENG-1",
        "ENG",
        issue["state"]["name"],
    )
    assert row["state_type"] == issue["state"]["type"] and row["issue_created_at"] is not None


def test_a_second_run_changes_nothing(db: Db, sandbox: Sandbox) -> None:
    sync(db, sandbox)
    sandbox.advance(60)

    run = sync(db, sandbox)

    assert (run.status, run.created, run.updated, run.deleted) == ("no_changes", 0, 0, 0)
    assert db.events(run.id) == []


def test_a_state_change_is_one_issue_edited_by_state_name(db: Db, sandbox: Sandbox) -> None:
    issue = one_in(sandbox, "In Progress")
    sync(db, sandbox)
    sandbox.advance(60)
    sandbox.update_issue(issue["id"], state="In Review")

    run = sync(db, sandbox)

    [event] = db.events(run.id)
    assert (run.status, run.updated, event["type"]) == ("success", 1, "issue_edited")
    assert event["payload"]["changedFields"] == {
        "state": {"from": "In Progress", "to": "In Review"}
    }


def test_an_assignee_change_reads_by_name_with_the_id(db: Db, sandbox: Sandbox) -> None:
    sync(db, sandbox)
    sandbox.advance(60)
    before = sandbox.issue("OPS-5")["assignee"]
    sandbox.update_issue("OPS-5", assignee="Margaret Hamilton")

    run = sync(db, sandbox)

    [event] = db.events(run.id)
    changed = event["payload"]["changedFields"]
    assert changed["assignee"] == {"from": before and before["name"], "to": "Margaret Hamilton"}
    assert set(changed) == {"assignee", "assignee_id"}
    assert entities(db)[sandbox.issue("OPS-5")["id"]]["assignee_id"] == changed["assignee_id"]["to"]


def test_archive_without_an_updated_at_bump_is_a_tombstone_archived(
    db: Db, sandbox: Sandbox
) -> None:
    sync(db, sandbox)
    sandbox.advance(HOUR_S)
    archived = sandbox.archive("ENG-3")  # updatedAt stays as it was (vendors.md §4.2)

    run = sync(db, sandbox)

    [event] = db.events(run.id)
    assert (event["type"], run.deleted) == ("issue_deleted", 1)
    assert entities(db)[archived["id"]]["delete_reason"] == "archived"


def test_trash_is_a_tombstone_trashed_and_unarchive_restores_the_same_entity(
    db: Db, sandbox: Sandbox
) -> None:
    sync(db, sandbox)
    entity_id = entities(db)[sandbox.issue("DES-4")["id"]]["id"]
    sandbox.advance(60)
    sandbox.trash("DES-4")
    trashed = sync(db, sandbox)
    sandbox.advance(60)
    sandbox.unarchive("DES-4")

    restored = sync(db, sandbox)

    assert db.events(trashed.id)[0]["type"] == "issue_deleted"
    assert entities(db)[sandbox.issue("DES-4")["id"]]["deleted_at"] is None
    [event] = db.events(restored.id)
    assert (event["type"], event["aggregateid"]) == ("issue_created", entity_id)


def test_a_purged_issue_is_found_by_absence_in_a_full_refresh(db: Db, sandbox: Sandbox) -> None:
    sync(db, sandbox)
    sandbox.advance(60)
    gone = sandbox.issue("OPS-7")["id"]
    sandbox.purge("OPS-7")
    incremental = sync(db, sandbox)

    full = sync(db, sandbox, full_refresh=True)

    assert incremental.deleted == 0 and entities(db)[gone]["delete_reason"] == "purged"
    assert (full.status, full.deleted) == ("success", 1)


def test_ratelimited_mid_walk_ends_throttled_and_the_next_run_resumes(
    db: Db, sandbox: Sandbox
) -> None:
    sandbox.set_limits(requests_per_hour=1)  # the reset is ~an hour away: more than max_wait_s

    throttled = sync(db, sandbox, page_size=40)
    sandbox.advance(HOUR_S)
    resumed = sync(db, sandbox, page_size=40)

    assert (throttled.status, throttled.pages, throttled.created + throttled.noop) == (
        "throttled",
        1,
        40,
    )
    assert resumed.status == "success" and set(entities(db)) == live(sandbox)
    assert resumed.created == len(live(sandbox)) - throttled.created


def test_a_short_ratelimit_is_waited_out_on_the_reset_header(db: Db, sandbox: Sandbox) -> None:
    sandbox.faults.ratelimit(page=2)
    before = sandbox.now

    run = sync(db, sandbox, page_size=40)

    assert (run.status, run.created) == ("success", len(live(sandbox)))
    assert sandbox.metrics()["ratelimited"] == 1 and sandbox.now > before


def test_data_with_errors_on_page_two_applies_nothing_of_it(db: Db, sandbox: Sandbox) -> None:
    sandbox.faults.partial(page=2, times=None)

    broken = sync(db, sandbox, page_size=40)
    sandbox.faults.clear()
    fixed = sync(db, sandbox, page_size=40)

    assert (broken.status, broken.created + broken.noop, broken.deleted) == ("partial", 40, 0)
    assert "data with 1 error" in broken.error
    assert fixed.status == "success" and set(entities(db)) == live(sandbox)


def test_a_query_too_complex_is_asked_again_with_half_the_page(db: Db, sandbox: Sandbox) -> None:
    sandbox.set_limits(max_complexity=1_000)  # a 250-issue page costs ~1,900 points

    run = sync(db, sandbox)

    assert run.status == "success" and set(entities(db)) == live(sandbox)
    assert [r["variables"]["first"] for r in sandbox.requests()] == [250, 125]


def test_teams_limit_the_walk_and_each_team_sweeps_only_its_own(db: Db, sandbox: Sandbox) -> None:
    run = sync(db, sandbox, teams=["ENG"])
    sandbox.purge("DES-1")

    full = sync(db, sandbox, full_refresh=True, teams=["ENG"])

    assert {r["team_key"] for r in entities(db).values()} == {"ENG"} and run.created > 0
    assert full.deleted == 0


def test_a_bad_key_fails_the_run_naming_the_variable_and_never_the_key(
    db: Db, sandbox: Sandbox
) -> None:
    sandbox.token = "lin_api_not_the_right_one"

    run = sync(db, sandbox)

    assert run.status == "failed" and "LINEAR_API_KEY" in run.error
    assert "lin_api_not_the_right_one" not in run.error


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_either_listing_order_converges_to_the_same_rows(db: Db, clock: Any, order: str) -> None:
    sandbox = Sandbox(seed=2, clock=clock, sort=order)
    sync(db, sandbox)
    sandbox.advance(60)
    sandbox.update_issue("ENG-2", title="Renamed")

    run = sync(db, sandbox)

    assert run.updated == 1 and entities(db)[sandbox.issue("ENG-2")["id"]]["title"] == "Renamed"
