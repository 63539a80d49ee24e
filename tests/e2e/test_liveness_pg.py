"""PostgreSQL liveness (issue 10, findings 6, 8): no unbounded wait on a stalled holder, and a run
that outlives a dropped connection still ends with a status and a one-line error.

A stalled holder is a real process that SIGSTOPs itself inside a page transaction; a server
restart is simulated with `pg_terminate_backend` on the run's own connections (the shared server
is never restarted). These tests wait on real time (the lease TTL is 2 s): about 4 s in all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from pipeline.db import create_engine
from pipeline.ledger import Run
from pipeline.orchestrator import RunOptions
from pipeline.tables import leases, runs
from pipeline.testing import Db, ScriptedSource, item
from tests.conftest import _truncate
from tests.e2e.test_schedule import (
    ROOT,
    WORKER,
    assert_no_duplicate_events,
    kill_all,
    rows,
    wait_for_line,
)


@pytest.fixture
def pg(request: pytest.FixtureRequest) -> str:
    """A migrated, empty PostgreSQL database URL (this suite's schema)."""
    _truncate(request.getfixturevalue("pg_engine"))
    return str(request.getfixturevalue("pg_url"))


def worker(url: str, *stop_in_page: str) -> subprocess.Popen[str]:
    """slow_worker.py with a 2 s lease TTL and no delay between pages."""
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, "2", "0", *stop_in_page],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_holder_stopped_inside_a_page_loses_its_session_and_lease_without_a_long_wait(
    pg: str,
) -> None:  # finding 6
    stalled = worker(pg, "2")  # SIGSTOPs itself inside page 2's transaction
    takers: list[str] = []
    try:
        wait_for_line(stalled, "stopping in page 2")
        started = time.monotonic()
        while not takers or takers[-1] != "run success":
            taker = worker(pg)
            out, err = taker.communicate(timeout=10)  # never the indefinite wait of issue 10
            takers.append(out.splitlines()[-1] if out else err)
            assert len(takers) <= 3, takers
        took_s = time.monotonic() - started
        os.kill(stalled.pid, signal.SIGCONT)
        stalled_out, _ = stalled.communicate(timeout=15)
    finally:
        kill_all(stalled)

    assert set(takers[:-1]) <= {"run skipped"} and took_s < 12
    assert stalled_out.splitlines()[-1] != "run success"  # its session was closed by the server
    stalled_row, *_, took_over = rows(pg, sa.select(runs).order_by(runs.c.started_at))
    assert (stalled_row["status"], stalled_row["pages"]) == ("lost_lease", 1)
    assert (took_over["status"], took_over["pages"]) == ("success", 5)
    assert len(assert_no_duplicate_events(pg)) == 18


@pytest.fixture
def dropped(pg: str) -> Iterator[tuple[Db, Callable[[], int]]]:
    """The run's database (its engine has its own application_name) and a way to drop its
    sessions as a server restart would: every connection of the run's engine is closed."""
    name = f"pipeline-restart-{uuid.uuid4().hex[:8]}"
    engine = create_engine(f"{pg}&application_name={name}")
    admin = create_engine(pg)
    query = sa.text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"
    )

    def drop_sessions() -> int:
        with admin.begin() as conn:
            return int(conn.execute(query, {"n": name}).scalar_one())

    yield Db(engine), drop_sessions
    engine.dispose()
    admin.dispose()


def test_connections_dropped_between_pages_are_replaced_and_the_run_succeeds(
    dropped: tuple[Db, Callable[[], int]],
) -> None:  # finding 8: pool_pre_ping
    db, drop_sessions = dropped
    killed: list[int] = []

    def restart(run: Run) -> None:
        killed.append(drop_sessions())

    source = ScriptedSource([[item("1")], [item("2")], [item("3")]])
    run = db.run(source, options=RunOptions(on_page=restart))

    assert killed[0] >= 1
    assert (run.status, run.pages, run.created) == ("success", 3, 3)
    assert db.run_row(run.id)["status"] == "success"


def test_a_connection_dropped_inside_a_page_ends_the_run_failed_with_one_line_and_no_sql(
    dropped: tuple[Db, Callable[[], int]],
) -> None:  # finding 8
    db, drop_sessions = dropped

    def restart(step: str, page: int) -> None:
        if (step, page) == ("read_existing", 2):
            drop_sessions()

    source = ScriptedSource([[item("1")], [item("2")], [item("3")]], name="restart")
    run = db.run(source, options=RunOptions(on_step=restart))
    rerun = db.run(ScriptedSource([[item("1")], [item("2")], [item("3")]], name="restart"))

    row = db.run_row(run.id)
    assert (row["status"], row["pages"]) == ("failed", 1)
    assert row["error"] == (
        "database error (AdminShutdown): terminating connection due to administrator command"
    )
    assert db.rows(sa.select(leases.c.owner)) == [{"owner": None}]
    assert (rerun.status, rerun.pages, rerun.created) == ("success", 2, 2)
