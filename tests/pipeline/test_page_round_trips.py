"""A page transaction on PostgreSQL: what it sends, and that its one NOTIFY still wakes listeners.

Each statement is a round trip that waits to be scheduled again on a loaded server; the idle
timeout rides on the lease renewal and the NOTIFY on the run counters' UPDATE (bench/README.md).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from pipeline.orchestrator import RunOptions
from pipeline.outbox import NOTIFY_CHANNEL
from pipeline.testing import Db, ScriptedSource, item

postgres_only = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def page_statements(db: Db, pages: list[list[Any]]) -> list[list[str]]:
    """The statements each page transaction sent, by their first words."""
    sent: list[list[str]] = []
    inside = False

    def on_step(name: str, page: int) -> None:
        nonlocal inside
        if name == "fetched":
            sent.append([])
        inside = name != "committed"

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if inside:
            sent[-1].append(" ".join(statement.split()[:2]))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        db.run(ScriptedSource(pages), options=RunOptions(on_step=on_step))
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return sent


@postgres_only
def test_a_page_sends_no_set_local_and_no_notify_of_its_own(db: Db) -> None:
    created, unchanged = page_statements(db, [[item("1")], [item("1")]])

    assert created == [
        "UPDATE integration_leases",  # fence, carrying the idle timeout
        "SELECT m.external_id,",  # stored rows
        "INSERT INTO",  # the entity
        "INSERT INTO",  # its run item
        "UPDATE integration_runs",  # counters, carrying the NOTIFY
        "INSERT INTO",  # its event
        "UPDATE integration_subscriptions",  # checkpoint
    ]
    assert unchanged == [
        "UPDATE integration_leases",
        "SELECT m.external_id,",
        "UPDATE integration_runs",
        "UPDATE integration_subscriptions",
    ]


@postgres_only
def test_a_page_with_events_notifies_listeners_once_at_commit(db: Db) -> None:
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    heard: list[str] = []
    with psycopg.connect(url, autocommit=True) as listener:
        listener.add_notify_handler(lambda n: heard.append(n.payload))
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

        db.run(ScriptedSource([[item("1"), item("2")], [item("1")]]))
        listener.execute("SELECT 1")  # notifications committed before it arrive with its answer

    assert heard == ["default"]
