"""Fetch and commit overlap (issue 15 item 2): page N+1 is fetched while page N commits.

Every test runs on SQLite and PostgreSQL through the real orchestrator. Threads hand each other
events; nothing sleeps (a wait has a timeout only so a broken overlap fails instead of hanging).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from pipeline.changes import Change, Checkpoint, Page, Sweep
from pipeline.errors import SourceError
from pipeline.ledger import Run
from pipeline.orchestrator import RunOptions
from pipeline.subscriptions import Subscription
from pipeline.testing import Db, ScriptedSource, item

WAIT_S = 10.0  # only a broken overlap ever waits this long


class WatchedSource:
    """Yields `pages` and records, for each fetch, the page steps the walk had passed before it."""

    def __init__(self, pages: list[list[dict[str, Any]]], fail_at: int | None = None) -> None:
        self.pages_ = pages
        self.fail_at = fail_at
        self.started: dict[int, threading.Event] = {i: threading.Event() for i in (1, 2, 3, 4)}
        self.steps: list[tuple[str, int]] = []
        self.steps_at_fetch: dict[int, list[tuple[str, int]]] = {}
        self.committed = 0
        self.most_held = 0
        self.checkpoint: dict[str, Any] = {}

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        for number, records in enumerate(self.pages_, start=1):
            self.steps_at_fetch[number] = list(self.steps)
            self.started[number].set()
            self.most_held = max(self.most_held, number - self.committed)
            if number == self.fail_at:
                raise SourceError(f"page {number}: the vendor answered 500")
            self.checkpoint["page"] = number  # mutated in place: the page must keep its own copy
            yield Page([Change.upsert(r["id"], r) for r in records], self.checkpoint)

    def on_step(self, name: str, number: int) -> None:
        self.steps.append((name, number))
        if name == "committed":
            self.committed = number

    def api_calls(self) -> dict[str, int]:
        return {"api_calls": len(self.steps_at_fetch)}


def three_pages() -> list[list[dict[str, Any]]]:
    return [[item(f"{p}{i}") for i in range(3)] for p in "abc"]


def test_the_next_page_is_fetched_while_the_page_before_it_commits(db: Db) -> None:
    source = WatchedSource(three_pages())
    overlapped: list[bool] = []

    def on_step(name: str, number: int) -> None:
        source.on_step(name, number)
        if name == "write" and number == 1:  # inside page 1's transaction
            overlapped.append(source.started[2].wait(WAIT_S))

    run = db.run(source, options=RunOptions(on_step=on_step))

    assert run.status == "success" and run.counts["created"] == 9
    assert overlapped == [True]
    assert ("committed", 1) not in source.steps_at_fetch[2]


def test_at_most_two_pages_are_held_and_each_checkpoint_is_its_own_page(db: Db) -> None:
    source = WatchedSource(three_pages())

    run = db.run(source, options=RunOptions(on_step=source.on_step))

    assert source.most_held == 2  # the page committing and the page being fetched
    assert run.checkpoint_after == {"page": 3}
    assert db.checkpoint() == {"page": 3}


def test_a_checkpoint_moved_by_the_next_fetch_is_not_the_one_stored(db: Db) -> None:
    source = WatchedSource(three_pages())
    stored: list[Any] = []

    def on_step(name: str, number: int) -> None:
        source.on_step(name, number)
        if name == "advance_checkpoint" and number == 1:
            source.started[2].wait(WAIT_S)  # page 2's fetch moved the source's checkpoint dict

    def on_page(run: Run) -> None:
        stored.append(db.checkpoint())

    db.run(source, options=RunOptions(on_step=on_step, on_page=on_page))

    assert stored == [{"page": 1}, {"page": 2}, {"page": 3}]


def outcome(db: Db, prefetch: bool) -> tuple[Any, ...]:
    sub = Subscription("testing", "items", tenant_id=f"prefetch-{prefetch}")
    source = WatchedSource(three_pages(), fail_at=3)
    run = db.run(source, sub, options=RunOptions(prefetch=prefetch))
    return run.status, run.error, run.counts["created"], run.counts["pages"], db.checkpoint(sub)


def test_a_fetch_error_after_committed_pages_ends_the_run_as_without_prefetch(db: Db) -> None:
    with_prefetch = outcome(db, prefetch=True)
    without = outcome(db, prefetch=False)

    assert (
        with_prefetch[:4]
        == without[:4]
        == (
            "failed",
            "page 3: the vendor answered 500",
            6,
            2,
        )
    )
    assert with_prefetch[4] == {"page": 2}


def test_a_page_whose_sweep_calls_the_vendor_commits_before_the_next_fetch(db: Db) -> None:
    steps: list[tuple[str, int]] = []
    at_fetch: dict[int, list[tuple[str, int]]] = {}

    def confirm(keys: Any) -> dict[str, str | None]:
        return dict.fromkeys(keys, "absent")

    class Confirming(ScriptedSource):
        def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
            for number, page in enumerate(super().pages(checkpoint), start=1):
                at_fetch[number] = list(steps)
                yield page

    sweep = Sweep("all", seen=["a"], confirm=confirm)
    source = Confirming([[item("a")], [item("b")]], sweeps={0: [sweep]})
    run = db.run(source, options=RunOptions(on_step=lambda n, p: steps.append((n, p))))

    assert run.status == "success"
    assert ("committed", 1) in at_fetch[2]
