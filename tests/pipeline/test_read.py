"""`pipeline.read`, the public read API: runs, items failed first, entities, an entity's history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline import read
from pipeline.errors import ConfigError
from pipeline.testing import Db, ScriptedSource, item


def two_runs(db: Db) -> tuple[str, str]:
    """A first run creating 1 and 2, an hour later one renaming 2 with 3 failing validation."""
    first = db.run(ScriptedSource([[item("1", count=3), item("2")]]))
    db.clock.advance(3600)
    second = db.run(ScriptedSource([[item("2", title="renamed"), item("3", title=None)]]))
    return first.id, second.id


def test_runs_are_newest_first_and_filtered(db: Db) -> None:
    first, second = two_runs(db)

    assert [r["id"] for r in read.runs(db.engine)] == [second, first]
    assert [r["id"] for r in read.runs(db.engine, status="success")] == [first]
    assert [
        r["id"] for r in read.runs(db.engine, since=timedelta(minutes=30), now=db.clock.now())
    ] == [second]
    assert read.runs(db.engine, stream="testing-items", tenant="other") == []
    assert read.runs(db.engine, limit=1)[0]["stream"] == "testing-items"


def test_a_run_is_found_by_a_unique_prefix_and_its_items_list_failures_first(db: Db) -> None:
    _, second = two_runs(db)

    found = read.run(db.engine, second[:8])
    items = read.items(db.engine, second)

    assert found is not None and found["status"] == "partial"
    assert [(i["status"], i["external_id"]) for i in items] == [("failed", "3"), ("success", "2")]


def test_entities_filter_by_typed_column_and_by_record_field(db: Db) -> None:
    two_runs(db)

    by_status = read.entities(db.engine, "testing-items", where={"status": "open"})
    by_field = read.entities(db.engine, "testing-items", where={"count": "3"})

    assert sorted(e["external_id"] for e in by_status) == ["1", "2"]
    assert [e["external_id"] for e in by_field] == ["1"]
    with pytest.raises(ConfigError, match="testing-items has no field 'colour'; fields: count, id"):
        read.entities(db.engine, "testing-items", where={"colour": "red"})


def test_history_lists_what_each_run_did_to_one_entity(db: Db) -> None:
    first, second = two_runs(db)

    changes = read.history(db.engine, "testing-items", "2")

    assert [(c["run_id"], c["operation"]) for c in changes] == [
        (first, "created"),
        (second, "updated"),
    ]
    assert changes[1]["changed_fields"] == {"title": {"from": "item 2", "to": "renamed"}}
    assert read.entity(db.engine, "testing-items", "2")["data"]["title"] == "renamed"  # type: ignore[index]
