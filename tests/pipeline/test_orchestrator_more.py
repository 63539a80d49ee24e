"""More of the seed-spec §10 orchestrator checklist: items, failures, secrets, tenants, rollback."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from pipeline.changes import Change
from pipeline.db import create_engine
from pipeline.errors import SourceError
from pipeline.orchestrator import RunOptions
from pipeline.subscriptions import Subscription
from pipeline.tables import runs
from pipeline.testing import TESTING_STREAM, Db, ScriptedSource, item, testing_items
from tests.conftest import sqlite_url

SECRET = "xoxb-123-secret"
IN_TRANSACTION = (
    "check_fence",
    "read_existing",
    "classify",
    "write",
    "record_items",
    "emit_events",
    "advance_checkpoint",
)


class Sparse(BaseModel):
    """A canonical model whose only required field is the (ignored) `id`."""

    id: str
    title: str | None = None
    status: str | None = None


SPARSE = dataclasses.replace(TESTING_STREAM, name="sparse", model=Sparse)


def test_empty_source_ends_no_changes_and_stores_no_checkpoint(db: Db) -> None:
    run = db.run(ScriptedSource([]))

    row = db.run_row(run.id)
    assert (row["status"], row["records_found"], row["pages"]) == ("no_changes", 0, 0)
    assert (row["checkpoint_after"], db.checkpoint()) == (None, None)


def test_records_found_counts_every_change_including_delete_misses(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1"), Change.delete("404")], [item("1")]]))

    assert (run.records_found, run.created, run.noop) == (3, 1, 2)


def test_create_whose_only_non_null_fields_are_ignored_inserts_nothing(db: Db) -> None:
    source = ScriptedSource([[{"id": "1", "title": None}]])

    run = db.run(source, sub=Subscription("testing", "sparse"), stream=SPARSE)

    assert (run.status, run.created, run.noop) == ("no_changes", 0, 1)
    assert (db.entities(), db.events()) == ({}, [])


def test_duplicate_external_id_in_a_page_last_one_wins(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1", title="first"), item("1", title="second")]]))

    assert (run.created, run.noop, db.entities()["1"]["data"]["title"]) == (1, 1, "second")
    [event] = db.events(run.id)
    assert event["payload"]["changedFields"]["title"] == {"from": None, "to": "second"}


def test_run_items_record_changed_fields_per_operation(db: Db) -> None:
    db.run(ScriptedSource([[item("1"), item("2"), item("3"), item("9")]]))
    ids = {key: entity["id"] for key, entity in db.entities().items()}
    page = [
        item("1", status="closed"),
        Change.delete("2"),
        {"id": "3", "title": None},
        item("4", count=3),
        item("9"),
    ]

    run = db.run(ScriptedSource([page]))

    items = {
        i["external_id"]: (i["operation"], i["status"], i["local_id"], i["changed_fields"])
        for i in db.items(run.id)
    }
    created = {"title": "item 4", "status": "open", "tags": [], "count": 3}
    assert items == {
        "1": ("updated", "success", ids["1"], {"status": {"from": "open", "to": "closed"}}),
        "2": ("deleted", "success", ids["2"], {}),
        "3": ("updated", "failed", None, {}),
        "4": (
            "created",
            "success",
            db.entities()["4"]["id"],
            {k: {"from": None, "to": v} for k, v in created.items()},
        ),
    }
    assert (run.noop, db.entities()["3"]["data"]["title"]) == (1, "item 3")


def test_event_ids_are_deterministic_across_two_databases(
    db: Db, sqlite_template: Path, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other = Db(create_engine(sqlite_url(tmp_path / "other", sqlite_template)))
    edits = [[item("1", status="closed"), Change.delete("2")]]
    scripts = [[[item("1"), item("2")]], edits, [[item("2")]]]

    for target in (db, other):
        for pages in scripts:
            target.run(ScriptedSource(pages))
    first, second = ([(e["event_id"], e["type"]) for e in d.events()] for d in (db, other))
    other.engine.dispose()

    assert first == second
    assert len({event_id for event_id, _ in first}) == 5


def test_source_failing_before_any_page_keeps_the_checkpoint(db: Db) -> None:
    db.run(ScriptedSource([[item("1")]], name="s"))
    failing = ScriptedSource([[item("1")]], name="s", fail_with=SourceError("vendor said 503"))

    run = db.run(failing)

    row = db.run_row(run.id)
    assert (row["status"], row["pages"], row["completed_at"] is not None) == ("failed", 0, True)
    assert row["checkpoint_before"] == row["checkpoint_after"] == {"script": "s", "page": 1}
    assert db.checkpoint() == {"script": "s", "page": 1}
    assert "vendor said 503" in row["error"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(SourceError(f"invalid_auth for token {SECRET}"), id="source-error"),
        pytest.param(RuntimeError(f"connector bug, token {SECRET}"), id="unexpected-exception"),
    ],
)
def test_secret_never_reaches_the_run_row(db: Db, error: Exception) -> None:
    run = db.run(ScriptedSource([[item("1")]], fail_with=error))

    row = db.run_row(run.id)
    assert row["status"] == "failed" and row["error"]
    assert SECRET not in row["error"] and "[REDACTED]" in row["error"]


def test_secret_in_an_unexpected_exception_never_reaches_the_logs(
    db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    run = db.run(ScriptedSource([[item("1")]], fail_with=RuntimeError(f"bug, token {SECRET}")))

    assert run.status == "failed" and caplog.records
    assert SECRET not in caplog.text


def test_unexpected_exception_in_source_ends_run_failed_and_frees_the_lease(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1")]], fail_with=RuntimeError("bug in connector")))

    after = db.run(ScriptedSource([[item("2")]]))

    row = db.run_row(run.id)
    assert (row["status"], row["created"], row["completed_at"] is not None) == ("failed", 1, True)
    assert "bug in connector" in row["error"]
    assert after.status == "success"


def test_interrupt_mid_walk_never_records_the_run_as_success(db: Db) -> None:
    run = db.run(ScriptedSource([[item("1")], [item("2")]], fail_with=KeyboardInterrupt()))

    [row] = db.rows(sa.select(runs))
    assert (row["status"], row["pages"], row["completed_at"] is not None) == ("stopped", 2, True)
    assert run.status == "stopped"
    assert db.run(ScriptedSource([[item("3")]])).status == "success"  # the lease was released


@pytest.mark.parametrize("step", [pytest.param(step, id=step) for step in IN_TRANSACTION])
def test_error_inside_the_page_transaction_rolls_the_whole_page_back(db: Db, step: str) -> None:
    def fail_on_page_2(name: str, page: int) -> None:
        if (name, page) == (step, 2):
            raise RuntimeError(f"database failed after {name}")

    source = ScriptedSource([[item("1")], [item("2"), item("3")]], name="s")
    run = db.run(source, options=RunOptions(on_step=fail_on_page_2))

    row = db.run_row(run.id)
    assert (row["status"], row["pages"], row["created"]) == ("failed", 1, 1)
    assert (sorted(db.entities()), len(db.events()), len(db.items(run.id))) == (["1"], 1, 1)
    assert row["checkpoint_after"] == db.checkpoint() == {"script": "s", "page": 1}


def test_tenant_id_reaches_run_items_events_and_entities(db: Db) -> None:
    db.run(ScriptedSource([[item("1")]]))
    acme = Subscription("testing", "items", tenant_id="acme")

    run = db.run(ScriptedSource([[item("1", title="acme's")]]), sub=acme)

    assert (run.status, run.created, db.run_row(run.id)["tenant_id"]) == ("success", 1, "acme")
    assert [(i["tenant_id"], i["operation"]) for i in db.items(run.id)] == [("acme", "created")]
    assert [e["tenant_id"] for e in db.events(run.id)] == ["acme"]
    c = testing_items.c
    keys = db.rows(sa.select(c.tenant_id, c.external_id).order_by(c.tenant_id))
    assert [(k["tenant_id"], k["external_id"]) for k in keys] == [("acme", "1"), ("default", "1")]
