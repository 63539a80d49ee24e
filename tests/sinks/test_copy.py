"""Pages written with COPY (PostgreSQL, from `COPY_MIN_ROWS` rows) look exactly like pages written
with executemany: the same entity rows, run items and events, in the same order (issue 15 item 3).

Each test syncs the same script twice, into two tenants, once with every page through COPY and
once with none, and compares what a reader sees. On SQLite both runs take the executemany path.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline import batch
from pipeline.changes import Change
from pipeline.subscriptions import Subscription
from pipeline.tables import run_items
from pipeline.testing import Db, ScriptedSource, item, testing_items

PAGE = 40
VOLATILE = (
    "id",
    "tenant_id",
    "created_at",
    "updated_at",
    "deleted_at",
    "run_id",
    "local_id",
    "subscription_id",
)


def script() -> list[list[Any]]:
    """A first page of creates, then edits, deletes and a restore in one page."""
    first = [item(str(i), tags=["a", "b"], count=i, meta={"n": i}) for i in range(PAGE)]
    second: list[Any] = [item(str(i), status="closed") for i in range(0, PAGE, 2)]
    second += [Change.delete(str(i)) for i in range(1, 11, 2)]
    return [first, second, [item("1", title="back again")]]


def sync(db: Db, tenant: str, copy_from: int, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setattr(batch, "COPY_MIN_ROWS", copy_from)
    sub = Subscription("testing", "items", tenant_id=tenant)
    runs = [db.run(ScriptedSource([page]), sub) for page in script()]
    return [(run.status, {k: v for k, v in run.counts.items() if k != "api_calls"}) for run in runs]


def seen(db: Db, tenant: str) -> dict[str, Any]:
    """What a reader sees of one tenant, without ids, clocks and run ids."""

    def plain(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k not in VOLATILE}

    entities = [plain(r) for r in db.rows(testing_items.select()) if r["tenant_id"] == tenant]
    items = [plain(r) for r in db.rows(_items()) if r["tenant_id"] == tenant]
    events = [
        {**plain(e), "event_id": None, "aggregateid": None, "payload": _payload(e["payload"])}
        for e in db.events()
        if e["tenant_id"] == tenant
    ]
    return {
        "entities": sorted(entities, key=lambda r: r["external_id"]),
        "items": items,
        "events": events,
        "deleted": sorted(
            r["external_id"]
            for r in db.rows(testing_items.select())
            if r["tenant_id"] == tenant and r["deleted_at"] is not None
        ),
    }


def _items() -> Any:
    return run_items.select().order_by(run_items.c.id)


def _payload(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "entityId"}


def test_copy_and_executemany_write_the_same_rows_items_and_events(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied = sync(db, "copy", 1, monkeypatch)
    executed = sync(db, "executemany", 10**9, monkeypatch)

    assert copied == executed
    assert [c["created"] for _, c in copied] == [PAGE, 0, 1]  # a restore is a create
    assert [c["updated"] for _, c in copied] == [0, PAGE // 2, 0]
    assert seen(db, "copy") == seen(db, "executemany")
    assert seen(db, "copy")["deleted"] == ["3", "5", "7", "9"]


def test_a_replayed_copied_page_changes_nothing(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "COPY_MIN_ROWS", 1)
    pages = script()[:1]
    first = db.run(ScriptedSource(pages))
    before = seen(db, "default")
    again = db.run(ScriptedSource(pages))

    assert (first.counts["created"], again.counts["noop"]) == (PAGE, PAGE)
    assert seen(db, "default") == before
