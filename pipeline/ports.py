"""The ports of the engine (DESIGN §1): small Protocols that adapters and fakes implement.

The orchestrator depends on these only. The SQL sink (`sinks.sql.SqlSink`, found through the
entry-point group `pipeline.sinks`) implements `Sink`; every connector's source implements
`ChangeSource`; `pipeline.testing.ScriptedSource` is the test source.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.changes import Checkpoint, Page, Sweep


class ChangeSource(Protocol):
    """Walks the vendor and yields pages; the checkpoint is passed in by value.

    Raise `SourceError` when the walk fails and `BudgetSpent` when the run's request budget is spent;
    both end the run after the pages already yielded were committed. A source may also report the
    configured scopes it could not read with `unreadable_scopes()` (see `pipeline/scopes.py`).

    The walk fetches page N+1 on a background thread while page N commits (`pipeline/prefetch.py`);
    a source whose next page depends on the previous one being committed sets `prefetch = False`.
    """

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]: ...

    def api_calls(self) -> Mapping[str, int]:
        """Counters to copy onto the run row: `api_calls`, `rate_limited`, `retries`."""
        ...


class EntityLookup(Protocol):
    """Read-only view of stored entities a source may consult (e.g. a thread's last reply)."""

    def lookup(self, keys: Iterable[str]) -> dict[str, Mapping[str, Any]]: ...

    def count_live(
        self, by: str, values: Iterable[Any], where: Mapping[str, Any]
    ) -> dict[Any, int]:
        """Live entities per value of the typed column `by` (e.g. a thread's stored replies)."""
        ...


class StoredRow(Protocol):
    """What the hash gate needs of a stored entity."""

    @property
    def id(self) -> str: ...

    content_hash: str
    version: int
    is_deleted: bool


class Sink(Protocol):
    """Entity rows of one stream for one tenant, read and written inside the page transaction."""

    tenant_id: str

    def read_existing(self, conn: Connection, keys: Sequence[str]) -> Mapping[str, StoredRow]: ...

    def read_data(self, conn: Connection, keys: Sequence[str]) -> dict[str, Mapping[str, Any]]: ...

    def row(self, external_id: str, record: Mapping[str, Any], **fixed: Any) -> dict[str, Any]: ...

    def write(
        self,
        conn: Connection,
        upserts: Sequence[dict[str, Any]],
        tombstones: Sequence[dict[str, Any]],
        rehashes: Sequence[dict[str, Any]] = (),
    ) -> None: ...

    def live_in_scope(self, conn: Connection, sweep: Sweep) -> list[tuple[str, str | None, Any]]:
        """(external id, seen generation, updated_at) of the live rows in a sweep's scope."""
        ...

    def mark_seen(self, conn: Connection, keys: Sequence[str], generation: str) -> None: ...

    def lookup(self, engine: Engine) -> EntityLookup: ...


class SinkFactory(Protocol):
    """Opens the sink of one entity table for one tenant and provider."""

    def __call__(self, table: sa.Table, tenant_id: str, provider: str) -> Sink: ...
