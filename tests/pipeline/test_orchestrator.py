"""The page transaction of DESIGN §4: classification, counters, statuses, events, checkpoints."""

from __future__ import annotations

from pipeline.changes import Change, Sweep
from pipeline.errors import BudgetSpent, SourceError
from pipeline.testing import Db, ScriptedSource, item


def test_first_run_creates_every_record_with_one_event_each(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1"), item("2")], [item("3")]]))

    assert (run.status, run.created, run.pages, run.records_found) == ("success", 3, 2, 3)
    events = db.events(run.id)
    assert [e["type"] for e in events] == ["item_created"] * 3
    assert events[0]["payload"]["changedFields"]["title"] == {"from": None, "to": "item 1"}
    assert events[0]["payload"]["source"] == "integration"
    assert db.checkpoint()["page"] == 2


def test_replayed_page_changes_nothing_and_ends_no_changes(db: Db) -> None:
    first = db.run(ScriptedSource([[item("1"), item("2")]]))
    entities = db.entities()

    replay = db.run(ScriptedSource([[item("1"), item("2")]]))

    assert (first.status, replay.status, replay.noop) == ("success", "no_changes", 2)
    assert db.events(replay.id) == [] and db.items(replay.id) == []
    assert db.entities() == entities


def test_resumed_run_starts_after_the_checkpoint(db: Db) -> None:
    pages = [[item("1")], [item("2")]]
    db.run(ScriptedSource(pages[:1], name="walk"))

    run = db.run(ScriptedSource(pages, name="walk"))

    assert (run.status, run.created, run.pages, run.checkpoint_before) == (
        "success",
        1,
        1,
        {"script": "walk", "page": 1},
    )


def test_edit_reports_only_changed_fields(db: Db) -> None:
    db.run(ScriptedSource([[item("7", status="open", tags=["a", "b"])]]))

    run = db.run(ScriptedSource([[item("7", status="closed", tags=["b", "a"])]]))

    assert (run.status, run.created, run.updated) == ("success", 0, 1)
    [event] = db.events(run.id)
    assert event["type"] == "item_edited"
    assert event["payload"]["changedFields"] == {"status": {"from": "open", "to": "closed"}}
    [row] = db.items(run.id)
    assert (row["operation"], row["changed_fields"]) == (
        "updated",
        event["payload"]["changedFields"],
    )


def test_same_content_is_a_noop_without_event(db: Db) -> None:
    db.run(ScriptedSource([[item("1")]]))

    run = db.run(ScriptedSource([[item("1")]]))

    assert (run.status, run.noop, db.events(run.id), db.items(run.id)) == ("no_changes", 1, [], [])


def test_volatile_field_alone_is_not_an_edit(db: Db) -> None:
    db.run(ScriptedSource([[item("1", seen_at="2026-01-01")]]))

    run = db.run(ScriptedSource([[item("1", seen_at="2026-02-02")]]))

    assert (run.status, run.noop) == ("no_changes", 1)


def test_reordered_unordered_field_stops_at_the_hash_gate(db: Db) -> None:
    db.run(ScriptedSource([[item("1", tags=["a", "b"])]]))
    stored = db.entities()["1"]["content_hash"]

    run = db.run(ScriptedSource([[item("1", tags=["b", "a"])]]))

    assert (run.status, run.noop, db.events(run.id)) == ("no_changes", 1, [])
    assert db.entities()["1"]["content_hash"] == stored


def test_noop_with_a_stale_hash_stores_the_new_hash_without_an_event(db: Db) -> None:
    db.run(ScriptedSource([[item("1", count=5)]]))
    before = db.entities()["1"]

    run = db.run(ScriptedSource([[item("1", count="5")]]))  # a numeric string equals the number

    after = db.entities()["1"]
    assert (run.status, run.noop, db.events(run.id), db.items(run.id)) == ("no_changes", 1, [], [])
    assert after["content_hash"] != before["content_hash"]
    assert (after["data"], after["version"], after["updated_at"]) == (
        before["data"],
        before["version"],
        before["updated_at"],
    )


def test_delete_tombstones_then_redelete_is_a_miss(db: Db) -> None:
    db.run(ScriptedSource([[item("1")]]))

    first = db.run(ScriptedSource([[Change.delete("1")]]))
    again = db.run(ScriptedSource([[Change.delete("1"), Change.delete("404")]]))

    assert (first.status, first.deleted) == ("success", 1)
    [event] = db.events(first.id)
    assert event["type"] == "item_deleted" and "changedFields" not in event["payload"]
    assert db.entities()["1"]["deleted_at"] is not None
    assert db.entities()["1"]["delete_reason"] == "deleted"
    assert (again.status, again.deleted, again.noop, db.events(again.id)) == (
        "no_changes",
        0,
        2,
        [],
    )


def test_reappearing_record_is_restored_with_same_entity_id(db: Db) -> None:
    db.run(ScriptedSource([[item("1")]]))
    entity_id = db.entities()["1"]["id"]
    db.run(ScriptedSource([[Change.delete("1")]]))

    run = db.run(ScriptedSource([[item("1")]]))

    assert (run.status, run.created) == ("success", 1)
    [event] = db.events(run.id)
    assert (event["type"], event["payload"]["entityId"]) == ("item_created", entity_id)
    assert db.entities()["1"]["deleted_at"] is None
    assert len({e["event_id"] for e in db.events()}) == 3


def test_invalid_record_fails_alone_and_run_is_partial(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1"), {"id": "2", "title": None}, item("3")]]))

    assert (run.status, run.created, run.failed) == ("partial", 2, 1)
    failed = [i for i in db.items(run.id) if i["status"] == "failed"]
    assert failed[0]["external_id"] == "2" and "title" in failed[0]["error"]
    assert sorted(db.entities()) == ["1", "3"]
    assert len(db.events(run.id)) == 2


def test_source_error_fails_run_and_keeps_committed_pages(db: Db) -> None:
    source = ScriptedSource([[item("1")], [item("2")]], fail_with=SourceError("vendor said 500"))

    run = db.run(source)

    assert (run.status, run.created, run.pages) == ("failed", 2, 2)
    assert "vendor said 500" in db.run_row(run.id)["error"]
    assert db.checkpoint()["page"] == 2


def test_budget_spent_ends_throttled_and_next_run_continues(db: Db) -> None:
    pages = [[item("1")], [item("2")]]

    first = db.run(ScriptedSource(pages[:1], fail_with=BudgetSpent(60)))
    second = db.run(ScriptedSource(pages))

    assert (first.status, second.status, second.created) == ("throttled", "success", 1)
    assert db.run_row(first.id)["status"] == "throttled"


def test_sweep_tombstones_absent_records_of_a_completed_scope(db: Db) -> None:
    db.run(ScriptedSource([[item(str(i)) for i in range(1, 5)]]))
    sweep = Sweep("all items", seen={"1", "2", "3"})

    run = db.run(ScriptedSource([[item("1")]], sweeps={0: [sweep]}))

    assert (run.status, run.deleted) == ("success", 1)
    assert db.entities()["4"]["delete_reason"] == "absent"


def test_sweep_guard_tombstones_nothing_above_the_fraction(db: Db) -> None:
    db.run(ScriptedSource([[item(str(i)) for i in range(1, 5)]]))
    sweep = Sweep("all items", seen={"1"}, max_fraction=0.5)

    run = db.run(ScriptedSource([[item("1")]], sweeps={0: [sweep]}))

    assert (run.status, run.deleted) == ("partial", 0)
    assert "3 of 4" in db.run_row(run.id)["error"]
    assert all(e["deleted_at"] is None for e in db.entities().values())


def test_run_row_records_counters_and_checkpoints(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1"), item("1", title="dup")], [item("2")]], name="s"))

    row = db.run_row(run.id)
    assert (row["status"], row["records_found"], row["created"], row["noop"]) == (
        "success",
        3,
        2,
        1,
    )
    assert (row["checkpoint_before"], row["checkpoint_after"], row["api_calls"]) == (
        None,
        {"script": "s", "page": 2},
        2,
    )
    assert row["duration_ms"] is not None and row["completed_at"] is not None
