"""`pipeline runs purge` (DESIGN §9 retention): old runs and their items go, in batches; the last
run of a subscription and runs with unacknowledged events stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pipeline.cli import main
from pipeline.consumer_sql import OffsetStore, Position, sql_for
from pipeline.runs_purge import purge_runs
from pipeline.tables import event_outbox, run_items, runs
from pipeline.testing import Db, ScriptedSource, item

DAY = 86400


def run_days(db: Db, *names: str) -> list[str]:
    """One run a day, each creating one record; their ids."""
    ids = []
    for name in names:
        ids.append(db.run(ScriptedSource([[item(name)]], name=name)).id)
        db.clock.advance(DAY)
    return ids


def acknowledge_through(db: Db, run_id: str, consumer: str = "audit") -> None:
    """The consumer has read every event up to and including `run_id`'s."""
    with db.engine.begin() as conn:
        sql = sql_for(conn)
        query = sa.select(sql.txid_column, event_outbox.c.id).where(event_outbox.c.run_id == run_id)
        txid, event_id = conn.execute(query.order_by(event_outbox.c.id.desc())).first()  # type: ignore[misc]
        position = Position(int(txid), int(event_id))
        OffsetStore().register(conn, consumer, position, {}, db.clock.now())
        OffsetStore().save(conn, consumer, position, db.clock.now())


def left(db: Db) -> tuple[list[str], int]:
    kept = [r["id"] for r in db.rows(sa.select(runs).order_by(runs.c.started_at))]
    return kept, len(db.rows(sa.select(run_items)))


def test_old_runs_go_with_their_items_but_never_a_subscriptions_last_run(db: Db) -> None:
    *_, last = run_days(db, "a", "b", "c")
    db.clock.advance(40 * DAY)

    purged = purge_runs(db.engine, timedelta(days=30), db.clock.now(), run_batch=1)

    assert (purged.runs, purged.items) == (2, 2)
    assert left(db) == ([last], 1)


def test_runs_whose_events_a_consumer_has_not_acknowledged_stay(db: Db) -> None:
    first, _, last = run_days(db, "a", "b", "c")
    acknowledge_through(db, first)
    db.clock.advance(40 * DAY)

    before = purge_runs(db.engine, timedelta(days=30), db.clock.now())
    acknowledge_through(db, last)
    after = purge_runs(db.engine, timedelta(days=30), db.clock.now())

    assert (before.runs, after.runs) == (1, 1)
    assert left(db) == ([last], 1)


def test_recent_runs_stay(db: Db) -> None:
    ids = run_days(db, "a", "b")

    purged = purge_runs(db.engine, timedelta(days=30), db.clock.now())

    assert purged.runs == 0 and left(db) == (ids, 2)


def test_the_command_says_what_went_and_rejects_a_bad_age(
    db: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    run_days(db, "a", "b")  # in 2026-01: older than 30 days by the real clock
    url = db.engine.url.render_as_string(hide_password=False)

    code = main(["--db", url, "runs", "purge", "--older-than", "30d"])
    bad = main(["--db", url, "runs", "purge", "--older-than", "a month"])

    out, err = capsys.readouterr()
    assert (code, bad) == (0, 2)
    assert out.startswith("purged 1 runs and 1 run items that ended more than 30d ago")
    assert (
        err
        == "error: --older-than: 'a month' is not a duration: use a number and a unit, e.g. 30s, 5m, 12h or 7d\n"
    )
