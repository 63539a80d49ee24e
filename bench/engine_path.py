"""Engine path: pre-built pages of the real `slack-messages` stream through the real Orchestrator.

The source yields `Page`s of `Change.upsert("<channel>:<ts>", record)` and `Change.delete(key)` (1000
per page); everything after that is production code: lease and fencing check, slim read, hash gate,
validation into `connectors.slack.models.Message`, field diff, multi-row upsert, tombstones, run
items, outbox events and the checkpoint, one transaction per page.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bench.data import Timed, scenario_ops
from bench.measure import Stopwatch, pg_server_cpu_s
from pipeline.changes import Change, Checkpoint, Page
from pipeline.db import create_engine
from pipeline.http.clock import SystemClock
from pipeline.migrate import upgrade
from pipeline.orchestrator import Orchestrator
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription

SUBSCRIPTION = Subscription("slack", "messages", tenant_id="bench")


class PageSource:
    """An in-process `ChangeSource`: the scenario's pages, built lazily and timed separately.

    Building a page is the benchmark's cost, not the engine's, and is subtracted from the run's
    time: it must not overlap the page transactions, so the walk does not fetch ahead here.
    """

    prefetch = False

    def __init__(self, scenario: str, records: int, seed: int) -> None:
        self.scenario, self.records, self.seed = scenario, records, seed
        self.timed: Timed | None = None
        self.pages_served = 0

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        self.timed = Timed(self._pages())
        return iter(self.timed)

    def _pages(self) -> Iterator[Page]:
        for ops in scenario_ops(self.scenario, self.records, self.seed):
            self.pages_served += 1
            changes = [
                Change.upsert(op.key, op.record) if op.record is not None else Change.delete(op.key)
                for op in ops
            ]
            yield Page(changes, {"bench": self.scenario, "page": self.pages_served})

    def api_calls(self) -> Mapping[str, int]:
        return {"api_calls": self.pages_served}


def prepare(url: str) -> None:
    """Migrate a fresh database (not timed)."""
    engine = create_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def run(url: str, scenario: str, records: int, seed: int = 0) -> dict[str, Any]:
    """One measured sync; `seconds` excludes the time spent building pages."""
    stream = get_stream("slack-messages")
    engine = create_engine(url)
    server_cpu = None
    try:
        source = PageSource(scenario, records, seed)
        orchestrator = Orchestrator(engine, SystemClock(), notify=True)
        watch = Stopwatch().start()
        result = orchestrator.run(stream, SUBSCRIPTION, source)
        watch.stop()
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                server_cpu = pg_server_cpu_s(conn.connection.driver_connection)
    finally:
        engine.dispose()
    timed = source.timed or Timed(iter(()))
    if result.status not in ("success", "no_changes"):
        raise RuntimeError(f"engine run ended {result.status}: {result.error}")
    return {
        "seconds": watch.wall - timed.seconds,
        "cpu_seconds": watch.cpu - timed.cpu_seconds,
        "server_cpu_seconds": server_cpu,
        "wall_seconds": watch.wall,
        "generate_seconds": timed.seconds,
        "status": result.status,
        "pages": result.counts["pages"],
        "counts": {
            k: result.counts[k] for k in ("created", "updated", "deleted", "noop", "failed")
        },
    }
