"""The ports of the engine (DESIGN §1): each a small Protocol that adapters and fakes implement.

The orchestrator depends only on these; `SqlSink`, `SqlLedger`, `SqlCheckpoints` and `OutboxWriter`
are the production adapters, `pipeline.testing.ScriptedSource` the test source.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from pipeline.changes import Checkpoint, Page, Sweep


class ChangeSource(Protocol):
    """Walks the vendor and yields pages; the checkpoint is passed in by value.

    Raise `SourceError` when the walk fails and `BudgetSpent` when the run's request budget is spent;
    both end the run after the pages already yielded were committed.
    """

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]: ...

    def api_calls(self) -> Mapping[str, int]:
        """Counters to copy onto the run row: `api_calls`, `rate_limited`, `retries`."""
        ...


class Differ(Protocol):
    """Computes `changed_fields` between the stored and the incoming canonical record."""

    def diff(
        self, stored: Mapping[str, Any] | None, incoming: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]: ...


class Sink(Protocol):
    """Entity rows: read the stored state for a page, then write it, inside the page transaction."""

    def read_existing(self, conn: Connection, keys: Sequence[str]) -> dict[str, Any]: ...

    def read_data(self, conn: Connection, keys: Sequence[str]) -> dict[str, Mapping[str, Any]]: ...

    def write(
        self,
        conn: Connection,
        upserts: Sequence[dict[str, Any]],
        tombstones: Sequence[dict[str, Any]],
    ) -> None: ...

    def live_in_scope(self, conn: Connection, sweep: Sweep) -> list[str]: ...


class EntityLookup(Protocol):
    """Read-only view of stored entities a source may consult (e.g. a thread's last reply)."""

    def lookup(self, keys: Iterable[str]) -> dict[str, Mapping[str, Any]]: ...


class CheckpointStore(Protocol):
    """The subscription's checkpoint, advanced only inside page transactions."""

    def get(self, conn: Connection, subscription_id: str) -> Checkpoint | None: ...

    def put(self, conn: Connection, subscription_id: str, checkpoint: Checkpoint) -> None: ...


class RunLedger(Protocol):
    """`integration_runs` and `integration_run_items`."""

    def start(self, run: Any) -> None: ...

    def record_page(self, conn: Connection, run: Any, items: Sequence[dict[str, Any]]) -> None: ...

    def finish(self, run: Any) -> None: ...


class Outbox(Protocol):
    """The transactional outbox: typed events written in the page transaction."""

    def emit(self, conn: Connection, events: Sequence[dict[str, Any]]) -> None: ...
