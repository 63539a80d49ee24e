"""Public test helpers: a scripted change source, a test stream and a database handle.

They implement the real ports (no mocks), so connector authors can test against them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Engine

from pipeline.changes import Change, Checkpoint, Page, Sweep
from pipeline.contract import ContractSandbox, stream_contract
from pipeline.errors import BudgetSpent, SourceError
from pipeline.faults import FaultBook
from pipeline.http.clock import FakeClock
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.ports import ChangeSource
from pipeline.registry import SourceContext, Stream, register
from pipeline.sandbox_http import (
    REAL_HTTP,
    SandboxTransport,
    SimulatedTimeout,
    make_server,
    start_in_thread,
)
from pipeline.schema import entity_table
from pipeline.subscriptions import Subscription
from pipeline.tables import event_outbox, run_items, runs, subscriptions

test_metadata = sa.MetaData()
testing_items = entity_table(
    "testing_items",
    sa.Column("title", sa.String(255), nullable=True),
    sa.Column("status", sa.String(32), nullable=True),
    on=test_metadata,
)


class Item(BaseModel):
    """The canonical model of the test stream."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    status: str = "open"
    tags: list[str] = []
    count: int | None = None
    meta: dict[str, Any] | None = None
    seen_at: str | None = None


def item(id: str = "1", **fields: Any) -> dict[str, Any]:
    """A raw test record: `item("7", status="closed")`."""
    return {"id": id, "title": f"item {id}", "status": "open", **fields}


@dataclass
class ScriptedSource:
    """A change source that yields pages given up front; it can fail or run out of budget after them.

    A page is a list of raw records (upserts) or `Change`s; the checkpoint after page i is
    `{"script": name, "page": i + 1}`. A run resumes after the pages already applied only when the
    stored checkpoint names the same script (each new source is a new script unless `name` is given).
    """

    pages_: Sequence[Sequence[Mapping[str, Any] | Change]]
    fail_with: BaseException | None = None
    sweeps: Mapping[int, Sequence[Sweep]] = field(default_factory=dict)
    name: str = field(default_factory=lambda: uuid.uuid4().hex)
    calls: int = 0

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        start = (
            int(checkpoint["page"]) if checkpoint and checkpoint.get("script") == self.name else 0
        )
        for index in range(start, len(self.pages_)):
            self.calls += 1
            changes = [
                c if isinstance(c, Change) else Change.upsert(str(c["id"]), c)
                for c in self.pages_[index]
            ]
            yield Page(
                changes, {"script": self.name, "page": index + 1}, self.sweeps.get(index, ())
            )
        if self.fail_with is not None:
            raise self.fail_with

    def api_calls(self) -> Mapping[str, int]:
        return {"api_calls": self.calls}


def _no_source(ctx: SourceContext) -> ChangeSource:
    raise SourceError("the testing stream needs a ScriptedSource passed to the run")


TESTING_STREAM = register(
    Stream(
        connector="testing",
        name="items",
        entity="item",
        table=testing_items,
        model=Item,
        open_source=_no_source,
        volatile=frozenset({"seen_at"}),
        unordered=frozenset({"tags"}),
        description="in-memory stream for engine tests",
    )
)


class Db:
    """A migrated database for tests: the engine plus readers of what a user can see."""

    def __init__(self, engine: Engine, clock: FakeClock | None = None) -> None:
        self.engine = engine
        self.clock = clock or FakeClock()
        self.orchestrator = Orchestrator(engine, self.clock)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def run(
        self,
        source: ChangeSource,
        sub: Subscription | None = None,
        stream: Stream = TESTING_STREAM,
        options: RunOptions | None = None,
    ) -> Any:
        return self.orchestrator.run(
            stream, sub or Subscription("testing", "items"), source, options
        )

    def rows(self, query: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def events(self, run_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(event_outbox).order_by(event_outbox.c.id)
        if run_id is not None:
            query = query.where(event_outbox.c.run_id == run_id)
        return self.rows(query)

    def entities(self, table: sa.Table = testing_items) -> dict[str, dict[str, Any]]:
        return {r["external_id"]: r for r in self.rows(sa.select(table))}

    def items(self, run_id: str) -> list[dict[str, Any]]:
        return self.rows(
            sa.select(run_items).where(run_items.c.run_id == run_id).order_by(run_items.c.id)
        )

    def run_row(self, run_id: str) -> dict[str, Any]:
        [row] = self.rows(sa.select(runs).where(runs.c.id == run_id))
        return row

    def checkpoint(self, sub: Subscription | None = None) -> Any:
        sub = sub or Subscription("testing", "items")
        rows = self.rows(sa.select(subscriptions.c.checkpoint).where(subscriptions.c.id == sub.id))
        return rows[0]["checkpoint"] if rows else None


__all__ = [
    "REAL_HTTP",
    "TESTING_STREAM",
    "BudgetSpent",
    "ContractSandbox",
    "Db",
    "FakeClock",
    "FaultBook",
    "Item",
    "SandboxTransport",
    "ScriptedSource",
    "SimulatedTimeout",
    "item",
    "make_server",
    "start_in_thread",
    "stream_contract",
    "testing_items",
]
