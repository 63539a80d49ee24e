"""Crash anywhere, resume, and end exactly where an uninterrupted run ends (DESIGN §4).

A real subprocess (`crash_worker.py`) syncs a fixed script of pages and SIGKILLs itself at one step
boundary of one page transaction. The database must then hold all of that page or none of it; a
re-run takes the dead holder's lease over at once, resumes from the checkpoint, and leaves the same
entities and the same outbox (no event lost or duplicated) as a run that was never interrupted.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db import create_engine
from pipeline.differ import canonical_json
from pipeline.orchestrator import STEPS
from pipeline.subscriptions import SqlCheckpoints
from pipeline.tables import event_outbox, runs
from pipeline.testing import testing_items
from tests.conftest import PG_URL, _truncate, sqlite_url
from tests.e2e.crash_worker import PAGES, SCRIPT, SUBSCRIPTION, sync

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
LAST = len(PAGES)

# Every step of a middle page (its `fetched` and `committed` are the boundaries with pages 1 and 3),
# plus a crash before anything was committed and one right before the last page.
CRASH_POINTS = [
    *(pytest.param(step, 2, id=f"{step}-page2") for step in STEPS),
    pytest.param("fetched", 1, id="fetched-page1-nothing-committed-yet"),
    pytest.param("committed", 3, id="committed-page3-only-last-page-left"),
]


def stored_page(engine: Engine) -> int:
    with engine.connect() as conn:
        checkpoint = SqlCheckpoints().get(conn, SUBSCRIPTION.id)
    return int(checkpoint["page"]) if checkpoint else 0


def snapshot(engine: Engine) -> dict[str, Any]:
    """What a user sees: entities, the outbox as a multiset, the stored checkpoint's page.

    Entity ids are random per database, so events name their entity by external id.
    """
    with engine.connect() as conn:
        entities = list(conn.execute(sa.select(testing_items)).mappings())
        events = list(conn.execute(sa.select(event_outbox)).mappings())
    external = {str(e["id"]): e["external_id"] for e in entities}
    outbox = Counter(
        (
            str(e["event_id"]),
            e["type"],
            external.get(str(e["aggregateid"])),
            canonical_json({**e["payload"], "entityId": external.get(e["payload"]["entityId"])}),
        )
        for e in events
    )
    return {
        "entities": {e["external_id"]: (e["data"], e["deleted_at"] is None) for e in entities},
        "outbox": outbox,
        "page": stored_page(engine),
    }


@pytest.fixture(scope="module")
def uninterrupted(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[dict[str, Any]]]:
    """Per dialect, the snapshots after 0, 1, …, LAST pages of a run that is never interrupted."""
    urls = {"sqlite": sqlite_url(tmp_path_factory.mktemp("uninterrupted"), sqlite_template)}
    if PG_URL:
        _truncate(request.getfixturevalue("pg_engine"))
        urls["postgresql"] = request.getfixturevalue("pg_url")
    expected = {}
    for dialect, url in urls.items():
        engine = create_engine(url)
        after = [snapshot(engine)]
        run = sync(
            url, on_page=lambda _run, after=after, engine=engine: after.append(snapshot(engine))
        )
        engine.dispose()
        assert (run.status, len(after)) == ("success", LAST + 1)
        expected[dialect] = after
    return expected


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("step", "page"), CRASH_POINTS)
def test_sigkill_at_a_step_then_rerun_ends_as_an_uninterrupted_run(
    db_url: str,
    engine: Engine,
    uninterrupted: dict[str, list[dict[str, Any]]],
    step: str,
    page: int,
) -> None:
    expected = uninterrupted[engine.dialect.name]
    committed = page if step == "committed" else page - 1

    crashed = subprocess.run(
        [sys.executable, str(WORKER), db_url, step, str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    after_crash = snapshot(engine)
    stored: list[int] = []
    rerun = sync(db_url, on_page=lambda _run: stored.append(stored_page(engine)))

    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert after_crash == expected[committed]  # the killed page is all there or not at all
    assert rerun.status == "success"  # took the dead holder's lease over at once: not `skipped`
    resumed_from = {"script": SCRIPT, "page": committed} if committed else None
    assert rerun.checkpoint_before == resumed_from
    assert stored == list(range(committed + 1, LAST + 1))  # the checkpoint only moves forward
    assert snapshot(engine) == expected[LAST]
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.select(runs.c.status)).scalars()) == ["failed", "success"]
