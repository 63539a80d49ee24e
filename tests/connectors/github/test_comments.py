"""github-comments against the sandbox, on SQLite and PostgreSQL (issue 11, vendors.md §4.1)."""

from __future__ import annotations

from connectors.github.sandbox import Sandbox
from pipeline.registry import get_stream
from pipeline.testing import Db

from .conftest import REPO, REPOS, sync

COMMENTS = get_stream("github-comments").table


def test_first_sync_mirrors_every_comment(db: Db, sandbox: Sandbox) -> None:
    run = sync(db, sandbox, "github-comments")

    rows = db.entities(COMMENTS)
    truth = {str(c.id): c for repo in REPOS for c in sandbox.comments(repo)}
    assert run.status == "success" and set(rows) == set(truth) and run.created == len(truth)
    some = next(iter(rows.values()))
    comment = truth[some["external_id"]]
    issue = sandbox.world.repo(some["repo"]).issue_by_id(comment.issue_id)
    assert issue is not None and some["issue_number"] == issue.number
    assert (some["author"], some["body"]) == (comment.user, comment.body)


def test_comment_edited_then_deleted(db: Db, sandbox: Sandbox) -> None:
    sync(db, sandbox, "github-comments")
    comment = sandbox.comments(REPO)[0]
    db.clock.advance(120)
    sandbox.edit_comment(REPO, comment.id, "edited ✏️")

    edited = sync(db, sandbox, "github-comments")
    db.clock.advance(120)
    sandbox.delete_comment(REPO, comment.id)
    unseen = sync(db, sandbox, "github-comments")
    deleted = sync(db, sandbox, "github-comments", full_refresh=True)

    [edit] = db.events(edited.id)
    assert edit["type"] == "comment_edited" and set(edit["payload"]["changedFields"]) == {"body"}
    assert unseen.deleted == 0  # a deleted comment just vanishes from the since-listing
    [gone] = db.events(deleted.id)
    assert gone["type"] == "comment_deleted" and deleted.deleted == 1
    assert db.entities(COMMENTS)[str(comment.id)]["delete_reason"] == "deleted"


def test_new_comment_is_created_and_its_issue_only_bumps_volatile_fields(
    db: Db, sandbox: Sandbox
) -> None:
    sync(db, sandbox)
    sync(db, sandbox, "github-comments")
    db.clock.advance(120)
    sandbox.add_comment(REPO, 2, "a new comment 👋")

    issues = sync(db, sandbox)
    comments = sync(db, sandbox, "github-comments")

    assert [e["type"] for e in db.events(comments.id)] == ["comment_created"]
    assert issues.updated == 0 and db.events(issues.id) == []  # comments count is volatile
