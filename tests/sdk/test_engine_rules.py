"""Engine rules a connector author relies on: checkpoints are never erased, sparse records clear
nothing, a record without a usable id is a failed item, and a multi-run walk's sweep survives
resumption."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from pipeline import KEEP_CHECKPOINT, Change, Checkpoint, Page, Sweep
from pipeline.testing import Db, ScriptedSource, item


class Pages:
    """A source yielding the given pages as they are."""

    def __init__(self, *pages: Page) -> None:
        self.pages_ = pages

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        yield from self.pages_

    def api_calls(self) -> Mapping[str, int]:
        return {}


def test_a_page_without_a_checkpoint_is_refused() -> None:
    with pytest.raises(TypeError, match="KEEP_CHECKPOINT"):
        Page([], None)  # type: ignore[arg-type]


def test_a_page_that_keeps_the_checkpoint_leaves_the_stored_one(db: Db) -> None:
    db.run(Pages(Page([Change.upsert("1", item("1"))], {"at": 1})))

    run = db.run(Pages(Page([Change.upsert("2", item("2"))], KEEP_CHECKPOINT)))

    assert run.status == "success"
    assert db.checkpoint() == {"at": 1}


def test_a_sparse_record_keeps_the_stored_values_of_the_keys_it_omits(db: Db) -> None:
    db.run(ScriptedSource([[item("1", status="open", count=5, tags=["a"])]]))

    run = db.run(ScriptedSource([[{"id": "1", "title": "renamed"}]]))

    [event] = db.events(run.id)
    assert event["payload"]["changedFields"] == {"title": {"from": "item 1", "to": "renamed"}}
    data = db.entities()["1"]["data"]
    assert (data["status"], data["count"], data["tags"]) == ("open", 5, ["a"])


def test_a_record_without_a_usable_id_is_a_failed_item_naming_it(db: Db) -> None:
    source = Pages(Page([Change.invalid("page1#0", "record without a usable id: 'id'")], {}))

    run = db.run(source)

    [failed] = db.items(run.id)
    assert (run.status, failed["status"], failed["external_id"]) == ("failed", "failed", "page1#0")
    assert failed["error"] == "record without a usable id: 'id'"  # its only record: run `failed`
    assert run.error == "its one record failed: record without a usable id: 'id' (record page1#0)"


def test_a_generation_sweep_spanning_two_runs_tombstones_only_what_the_walk_missed(
    db: Db,
) -> None:
    db.run(ScriptedSource([[item("1"), item("2"), item("3")]]))
    first_half = Page([Change.upsert("1", item("1"))], {"walk": 1}, generation="g1")
    second_half = Page(
        [Change.upsert("3", item("3"))],
        {"walk": None},
        [Sweep("all items", generation="g1", max_fraction=0.5)],
        generation="g1",
    )

    db.run(Pages(first_half))  # the walk is cut here; the next run resumes it
    run = db.run(Pages(second_half))

    assert (run.status, run.deleted) == ("success", 1)
    assert [e["type"] for e in db.events(run.id)] == ["item_deleted"]
    assert db.entities()["2"]["delete_reason"] == "absent"


def test_a_generation_sweep_over_the_fraction_guard_tombstones_nothing(db: Db) -> None:
    db.run(ScriptedSource([[item("1"), item("2"), item("3")]]))
    last = Page([], {}, [Sweep("all items", generation="g2", max_fraction=0.5)], generation="g2")

    run = db.run(Pages(last))

    assert (run.status, run.deleted) == ("partial", 0)
    assert "3 of 3 stored records are absent" in (run.error or "")
