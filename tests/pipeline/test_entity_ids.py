"""New entities get time-ordered ids (UUIDv7, issue 15): index inserts append instead of scattering."""

from __future__ import annotations

import uuid

from pipeline.changes import Change
from pipeline.testing import Db, ScriptedSource, item


def test_entity_ids_are_uuid7_in_creation_order_and_kept_on_restore(db: Db) -> None:
    pages = [[item(f"{p}{i}") for i in range(50)] for p in "ab"]
    db.run(ScriptedSource(pages))
    created = [db.entities()[f"{p}{i}"]["id"] for p in "ab" for i in range(50)]

    db.run(ScriptedSource([[Change.delete("a0")], [item("a0", title="back")]]))

    assert [uuid.UUID(str(i)).version for i in created] == [7] * 100
    assert [str(i) for i in created] == sorted(str(i) for i in created)
    assert len(set(created)) == 100
    assert db.entities()["a0"]["id"] == created[0]  # a restored entity keeps its id
