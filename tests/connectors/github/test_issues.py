"""github-issues against the sandbox, on SQLite and PostgreSQL (issue 11, vendors.md §4.1)."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.github.sandbox import Sandbox
from pipeline.registry import get_stream
from pipeline.testing import Db

from .conftest import REPO, REPOS, sync

ISSUES = get_stream("github-issues").table


def live(db: Db) -> dict[str, dict]:
    return {k: r for k, r in db.entities(ISSUES).items() if r["deleted_at"] is None}


def test_first_sync_mirrors_issues_and_pull_requests(db: Db, sandbox: Sandbox) -> None:
    run = sync(db, sandbox)

    rows = live(db)
    truth = {str(i.id): i for repo in REPOS for i in sandbox.issues(repo)}
    assert run.status == "success" and run.created == len(truth) == 80 and set(rows) == set(truth)
    assert run.api_calls == 2  # one page per repo (40 issues each, per_page=100)
    pr = next(r for k, r in rows.items() if truth[k].is_pull_request)
    issue = next(r for k, r in rows.items() if not truth[k].is_pull_request)
    assert pr["is_pull_request"] is True and issue["is_pull_request"] is False
    some = next(r for r in rows.values() if r["labels"])
    key = some["external_id"]
    assert some["labels"] == sorted(truth[key].labels) and some["author"] == truth[key].user
    assert some["repo"] in REPOS and some["number"] == truth[key].number
    assert some["github_updated_at"] is not None


def test_label_change_is_issue_edited_with_exactly_labels(db: Db, sandbox: Sandbox) -> None:
    sync(db, sandbox)
    issue = sandbox.issues(REPO)[0]
    db.clock.advance(120)
    sandbox.add_label(REPO, issue.number, "needs triage")

    run = sync(db, sandbox)

    [event] = db.events(run.id)
    changed = event["payload"]["changedFields"]
    assert event["type"] == "issue_edited" and set(changed) == {"labels"}
    assert "needs triage" in changed["labels"]["to"] and run.updated == 1


def test_reopened_issue_is_edited_back_to_open(db: Db, sandbox: Sandbox) -> None:
    number = next(i.number for i in sandbox.issues(REPO) if i.state == "open")
    sandbox.close(REPO, number, "not_planned")
    sync(db, sandbox)
    db.clock.advance(120)
    sandbox.reopen(REPO, number)

    run = sync(db, sandbox)

    [event] = db.events(run.id)
    assert set(event["payload"]["changedFields"]) == {"state", "state_reason", "closed_at"}
    row = live(db)[str(sandbox.issue(REPO, number).id)]
    assert (row["state"], row["state_reason"], row["closed_at"]) == ("open", "reopened", None)


def test_deleted_and_transferred_issues_are_confirmed_by_a_direct_get(
    db: Db, sandbox: Sandbox
) -> None:
    sync(db, sandbox)
    deleted = sandbox.delete_issue(REPO, 3)
    moved = sandbox.transfer_issue(REPO, 4, "octo-org/elsewhere")
    db.clock.advance(120)

    incremental = sync(db, sandbox)
    full = sync(db, sandbox, full_refresh=True)

    rows = db.entities(ISSUES)
    assert incremental.deleted == 0  # vanished issues are not in an incremental listing
    assert full.deleted == 2 and full.status == "success"
    assert rows[str(deleted.id)]["delete_reason"] == "deleted"
    assert rows[str(moved.id)]["delete_reason"] == "transferred"
    types = sorted(e["type"] for e in db.events(full.id))
    assert types == ["issue_deleted", "issue_deleted"]
    gets = [r for r in sandbox.journal if r["route"] == "get_issue"]
    assert sorted(r["status"] for r in gets) == [301, 410]


def test_full_listing_runs_by_itself_after_a_day(db: Db, sandbox: Sandbox) -> None:
    sync(db, sandbox)
    sandbox.delete_issue(REPO, 5)
    db.clock.advance(3600)
    assert sync(db, sandbox).deleted == 0

    db.clock.advance(86_400)
    run = sync(db, sandbox)

    assert run.deleted == 1


def test_idle_poll_is_answered_by_304(db: Db, sandbox: Sandbox) -> None:
    sync(db, sandbox)  # the first sync: a full listing
    sync(db, sandbox)  # incremental from the high water: remembers each repo's ETag
    calls_before = len(sandbox.journal)

    idle = sync(db, sandbox)

    requests = sandbox.journal[calls_before:]
    assert idle.status == "no_changes" and idle.api_calls == len(REPOS)
    assert [r["status"] for r in requests] == [304, 304]
    assert all(r["if_none_match"] for r in requests)
    assert sandbox.metrics()["not_modified"] == 2


def test_a_change_after_a_304_is_picked_up(db: Db, sandbox: Sandbox) -> None:
    for _ in range(3):
        sync(db, sandbox)
    db.clock.advance(120)
    sandbox.edit_issue(REPO, 2, title="new title")

    run = sync(db, sandbox)

    assert run.updated == 1 and [e["type"] for e in db.events(run.id)] == ["issue_edited"]


def test_secondary_limit_without_retry_after_waits_at_least_a_minute(
    db: Db, sandbox: Sandbox
) -> None:
    sandbox.faults.secondary(times=2, retry_after_s=None, route="list_issues")

    patient = sync(db, sandbox, max_wait_s=600.0)

    assert patient.status == "success" and patient.created == 80
    assert [round(s) for s in db.clock.slept if s >= 1][:2] >= [60, 120]


def test_secondary_limit_past_the_runs_patience_ends_throttled(db: Db, sandbox: Sandbox) -> None:
    sandbox.faults.secondary(times=None, retry_after_s=None, route="list_issues")

    run = sync(db, sandbox)

    assert run.status == "throttled" and run.created == 0


def test_primary_limit_mid_walk_resumes_from_the_committed_page(db: Db, sandbox: Sandbox) -> None:
    sandbox.bulk_seed("octo-org/big", 250)
    sandbox.set_limits(primary_limit=2)

    first = sync(db, sandbox, repos=["octo-org/big"])
    db.clock.advance(3600)
    calls_before = len(sandbox.journal)
    second = sync(db, sandbox, repos=["octo-org/big"])

    assert first.status == "throttled" and first.created == 200
    resumed = sandbox.journal[calls_before]
    assert resumed["page"] == 3 and resumed["status"] == 200
    assert second.status == "success" and second.created == 50
    assert len(live(db)) == 250


def test_500_on_page_2_of_a_full_listing_tombstones_nothing(db: Db, sandbox: Sandbox) -> None:
    sandbox.bulk_seed("octo-org/big", 150)
    sync(db, sandbox, repos=["octo-org/big"])
    db.clock.advance(60)
    gone = sandbox.delete_issue("octo-org/big", 7)
    sandbox.faults.fail(500, times=None, route="list_issues", page=2)

    broken = sync(db, sandbox, full_refresh=True, repos=["octo-org/big"])
    kept = db.entities(ISSUES)[str(gone.id)]["deleted_at"] is None
    sandbox.faults.clear()
    fixed = sync(db, sandbox, full_refresh=True, repos=["octo-org/big"])

    assert broken.status == "partial" and broken.deleted == 0 and kept
    assert "octo-org/big" in broken.error
    assert fixed.deleted == 1 and db.entities(ISSUES)[str(gone.id)]["delete_reason"] == "deleted"


def test_a_bad_token_is_one_line_naming_the_variable(db: Db, sandbox: Sandbox) -> None:
    run = sync(db, sandbox, token="ghp_wrong")

    assert run.status == "failed" and "GITHUB_TOKEN" in run.error and "\n" not in run.error
    assert "ghp_wrong" not in run.error
    named = sync(db, sandbox, token="ghp_wrong", token_env="MY_GH_TOKEN")
    assert "MY_GH_TOKEN" in named.error


def test_typed_columns_are_queryable(db: Db, sandbox: Sandbox) -> None:
    sync(db, sandbox)

    open_prs = db.rows(
        sa.select(ISSUES.c.number).where(
            ISSUES.c.repo == REPO, ISSUES.c.is_pull_request.is_(True), ISSUES.c.state == "open"
        )
    )

    truth = [i.number for i in sandbox.issues(REPO) if i.is_pull_request and i.state == "open"]
    assert sorted(r["number"] for r in open_prs) == truth


def test_a_primary_limit_met_by_issues_holds_comments_back_until_the_reset(
    db: Db, sandbox: Sandbox
) -> None:
    sandbox.set_limits(primary_limit=1)  # the token's hourly budget: both streams spend it
    issues = sync(db, sandbox)
    calls = len(sandbox.journal)

    comments = sync(db, sandbox, "github-comments")

    assert (issues.status, comments.status) == ("throttled", "throttled")
    assert len(sandbox.journal) == calls  # comments sent nothing before x-ratelimit-reset
    assert db.run_row(comments.id)["api_calls"] == 0
