"""Crash-injection worker: sync a fixed script of pages and SIGKILL itself at one step boundary.

    python tests/e2e/crash_worker.py DB_URL STEP PAGE

STEP is one of `pipeline.orchestrator.STEPS`; the process kills itself with SIGKILL when the page
transaction of page PAGE reaches that step (no cleanup, no `finally`, as a power cut or OOM kill).
The database must be migrated and have the `testing_items` table. `sync` is also imported by the
test, which re-runs the same script in-process to resume from the checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.changes import Change
from pipeline.db import create_engine
from pipeline.ledger import Run
from pipeline.orchestrator import Orchestrator, RunOptions, StepHook
from pipeline.subscriptions import Subscription
from pipeline.testing import TESTING_STREAM, ScriptedSource, item

SCRIPT = "crash-resume"
PAGES = [
    # creates
    [item("1"), item("2"), item("3", tags=["x"]), item("4", count=1)],
    # edit, create, delete, noop
    [item("1", status="closed"), item("5"), Change.delete("2"), item("3", tags=["x"])],
    # edit, restore, delete miss
    [item("3", tags=["y", "x"]), item("2", title="back"), Change.delete("404")],
    # edit, delete, create
    [item("4", count=2, meta={"a": 1}), Change.delete("1"), item("6")],
]
SUBSCRIPTION = Subscription("testing", "items")


def sync(
    url: str, on_step: StepHook | None = None, on_page: Callable[[Run], None] | None = None
) -> Run:
    """One run of the script against `url`; resumes after the pages already committed."""
    engine = create_engine(url)
    try:
        options = RunOptions(on_step=on_step, on_page=on_page)
        source = ScriptedSource(PAGES, name=SCRIPT)
        return Orchestrator(engine).run(TESTING_STREAM, SUBSCRIPTION, source, options)
    finally:
        engine.dispose()


def main(argv: list[str]) -> int:
    url, kill_step, kill_page = argv[1], argv[2], int(argv[3])

    def kill_at(step: str, page: int) -> None:
        if (step, page) == (kill_step, kill_page):
            os.kill(os.getpid(), signal.SIGKILL)

    run = sync(url, on_step=kill_at)
    print(f"not killed: run ended {run.status}", file=sys.stderr)  # the step was never reached
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
