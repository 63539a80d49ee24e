"""Slow lease holder for the scheduler e2e tests: one run of a fixed script, sleeping between pages.

    python tests/e2e/slow_worker.py DB_URL LEASE_TTL_S PAGE_DELAY_S [STOP_IN_PAGE]

With STOP_IN_PAGE N it prints `stopping in page N` and SIGSTOPs itself inside page N's
transaction, right after the fencing check (a holder stalled with a transaction open).

Prints `committed page N` (flushed) after each committed page and `run STATUS` at the end; exits
0 when the run succeeded (or had nothing to do) and 1 otherwise (e.g. `lost_lease`). The heartbeat
renews the lease every TTL/3 while the source sleeps, so only a dead or stopped process loses it.
The database must be migrated and have the `testing_items` table.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.changes import Checkpoint, Page
from pipeline.db import create_engine
from pipeline.ledger import Run
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.subscriptions import Subscription
from pipeline.testing import TESTING_STREAM, ScriptedSource, item

SCRIPT = "slow-holder"
PAGES = [[item(f"{page}-{n}") for n in range(3)] for page in range(1, 7)]  # 6 pages × 3 creates
SUBSCRIPTION = Subscription("testing", "items", tenant_id="slow")


class SlowSource(ScriptedSource):
    """The scripted pages, with a real sleep before every page but the first one it yields."""

    delay_s: float = 0.0

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        for index, page in enumerate(super().pages(checkpoint)):
            if index:
                time.sleep(self.delay_s)
            yield page


def main(argv: list[str]) -> int:
    url, ttl_s, delay_s = argv[1], float(argv[2]), float(argv[3])
    stop_in = int(argv[4]) if len(argv) > 4 else None
    source = SlowSource(PAGES, name=SCRIPT)
    source.delay_s = delay_s

    def committed(run: Run) -> None:
        print(f"committed page {run.counts['pages']}", flush=True)

    def step(name: str, page: int) -> None:
        if (name, page) == ("check_fence", stop_in):
            print(f"stopping in page {page}", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)

    engine = create_engine(url)
    try:
        options = RunOptions(lease_ttl_s=ttl_s, on_page=committed, on_step=step)
        run = Orchestrator(engine).run(TESTING_STREAM, SUBSCRIPTION, source, options)
    finally:
        engine.dispose()
    print(f"run {run.status}", flush=True)
    return 0 if run.status in ("success", "no_changes") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
