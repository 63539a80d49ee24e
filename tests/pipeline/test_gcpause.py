"""The cyclic-GC pause around page transactions and outbox reads: nests, restores, never sticks."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from pipeline.gcpause import Pause, gc_paused
from pipeline.orchestrator import RunOptions
from pipeline.testing import Db, ScriptedSource, item


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_restored_after_even_on_error() -> None:
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")

    assert gc.isenabled()


def test_nested_pauses_across_threads_restore_once_the_last_leaves() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with gc_paused():
        thread.start()
        inside.wait(5)
    still_paused = not gc.isenabled()  # the other thread is still inside
    release.set()
    thread.join(5)

    assert still_paused and gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    gc.disable()
    with gc_paused():
        pass

    assert not gc.isenabled()


def test_page_transactions_run_paused_and_leave_the_collector_on(db: Db) -> None:
    seen: list[bool] = []

    def on_step(step: str, _page: int) -> None:
        if step == "classify":
            seen.append(gc.isenabled())

    run = db.run(ScriptedSource([[item("1")], [item("2")]]), options=RunOptions(on_step=on_step))

    assert run.status == "success" and seen == [False, False] and gc.isenabled()


def test_a_pause_kept_up_by_overlapping_blocks_still_collects_every_max_pause() -> None:
    now = [0.0]
    pause = Pause(clock=lambda: now[0], max_pause_s=5.0)
    collections: list[str] = []

    def count(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(phase)

    gc.callbacks.append(count)
    try:
        pause.enter()  # a long block, e.g. another worker's page
        for _ in range(3):  # short blocks come and go, 3 s apart: the pause never ends
            now[0] += 3.0
            pause.enter()
            pause.leave()
        during = (len(collections), gc.isenabled())
        pause.leave()
    finally:
        gc.callbacks.remove(count)

    assert during == (1, False) and gc.isenabled()
