"""Run statuses that mean what they say (DESIGN §5): stopped, all-failed, unreadable scopes."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.orchestrator import RunOptions
from pipeline.testing import Db, ScriptedSource, item

BAD = {"title": None}  # Item.title is required: the record fails validation


def test_a_stop_asked_mid_walk_ends_stopped_after_the_committed_page(db: Db) -> None:
    source = ScriptedSource([[item("1")], [item("2")], [item("3")]], name="walk")
    pages: list[int] = []

    run = db.run(
        source,
        options=RunOptions(
            on_page=lambda r: pages.append(r.pages), should_stop=lambda: bool(pages)
        ),
    )

    row = db.run_row(run.id)
    assert (row["status"], row["pages"], row["created"]) == ("stopped", 1, 1)
    assert row["error"] == "stopped after page 1; the next run resumes there"
    assert db.checkpoint() == {"script": "walk", "page": 1}


def test_the_run_after_a_stop_resumes_at_the_next_page(db: Db) -> None:
    pages = [[item("1")], [item("2")], [item("3")]]
    db.run(
        ScriptedSource(pages, name="walk"),
        options=RunOptions(should_stop=lambda: db.checkpoint() is not None),
    )

    after = db.run(ScriptedSource(pages, name="walk"))

    assert (after.status, after.created, after.pages) == ("success", 2, 2)


def test_ctrl_c_ends_the_run_stopped_and_returns_it(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1")], [item("2")]], fail_with=KeyboardInterrupt()))

    assert (db.run_row(run.id)["status"], run.pages) == ("stopped", 2)
    assert run.error == "stopped after page 2; the next run resumes there"
    assert db.run(ScriptedSource([[item("3")]])).status == "success"  # the lease was released


def test_every_record_failing_ends_failed_with_the_first_error(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1", **BAD), item("2", **BAD)]]))

    row = db.run_row(run.id)
    assert (row["status"], row["failed"], row["created"]) == ("failed", 2, 0)
    assert row["error"].startswith(
        "all 2 records failed: ValidationError: 1 validation error for Item"
    )
    assert row["error"].endswith("(record 1)")


def test_some_records_failing_is_partial_and_says_how_many(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1"), item("2", **BAD), item("3")]]))

    row = db.run_row(run.id)
    assert row["status"] == "partial"
    assert row["error"].startswith("1 of 3 records failed; first: ValidationError")


class BlindSource(ScriptedSource):
    """A source configured for scopes it could not read."""

    def unreadable_scopes(self) -> Mapping[str, str]:
        return {"channel C2": "access lost mid-walk", "channel C1": "not found"}


def test_unreadable_scopes_make_a_clean_run_partial_and_are_named(db: Db) -> None:
    run = db.run(BlindSource([[item("1")]]))

    row = db.run_row(run.id)
    assert (row["status"], row["created"]) == ("partial", 1)
    assert (
        row["error"]
        == "could not read 2 scopes: channel C1 (not found); channel C2 (access lost mid-walk)"
    )


def test_unreadable_scopes_of_a_run_with_nothing_to_do_are_not_a_silent_no_changes(db: Db) -> None:
    run = db.run(BlindSource([]))

    assert (db.run_row(run.id)["status"], run.error) == (
        "partial",
        "could not read 2 scopes: channel C1 (not found); channel C2 (access lost mid-walk)",
    )
