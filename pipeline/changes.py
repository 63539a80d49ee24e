"""Value objects that flow through a run: Change, Sweep, Page, and the checkpoint type.

A *change* is one vendor record (already carrying its context, e.g. the channel) or the deletion of
one. A *page* is what the orchestrator applies in one transaction (DESIGN §4). A *sweep* says that a
scope was walked completely in this run, so deletion by absence may run for it (DESIGN §4).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

Checkpoint = dict[str, Any]
"""What we persist between runs, as JSON. The vendor's page token (the *cursor*) lives inside it."""

Operation = Literal["created", "updated", "deleted", "noop"]


@dataclass(frozen=True, slots=True)
class Change:
    """One record to upsert (`record` set) or one external id to delete (`record` is None)."""

    external_id: str
    record: Mapping[str, Any] | None
    delete_reason: str | None = None
    error: str | None = None
    """Set when the record could not even be keyed or read: a failed run item, nothing written."""
    is_own_write: bool = False
    """The connector's own app wrote it (loop prevention, DESIGN §8): counted `skipped`, written
    nowhere, no event."""
    restores: bool = True
    """False for a hint that must not bring a tombstoned entity back (a webhook event that arrives
    after the deletion, vendors.md §1.7): against a tombstone it is a noop; against a live row, or
    none, it applies as usual. A poll that lists the record still restores it."""

    @property
    def is_delete(self) -> bool:
        return self.record is None

    @classmethod
    def upsert(cls, external_id: str, record: Mapping[str, Any]) -> Change:
        return cls(external_id, record)

    @classmethod
    def delete(cls, external_id: str, reason: str = "deleted") -> Change:
        return cls(external_id, None, reason)

    @classmethod
    def invalid(cls, external_id: str, error: str) -> Change:
        """A record that cannot be keyed or read (e.g. no id): a failed item naming it."""
        return cls(external_id, None, None, error)


@dataclass(frozen=True, slots=True)
class Sweep:
    """Deletion by absence for a scope walked completely and cleanly in this run.

    Every live entity matching `where` (typed-column equality) and `between` (column, low, high,
    inclusive) whose external id is not in `seen` is tombstoned with `reason`, unless that would be
    more than `max_fraction` of the live entities in scope: then nothing is, and the run is `partial`.

    A walk that spans several runs names its `generation` instead of carrying `seen`: every page of
    it marks the rows it saw, and the sweep takes the live rows of the scope not marked by it. Rows
    written after `written_before` (the walk's start, e.g. by a webhook) are never candidates.
    """

    scope: str
    seen: Collection[str] = ()
    where: Mapping[str, Any] = field(default_factory=dict)
    between: tuple[str, Any, Any] | None = None
    max_fraction: float = 0.5
    reason: str = "absent"
    generation: str | None = None
    written_before: datetime | None = None
    confirm: Callable[[Sequence[str]], Mapping[str, str | None]] | None = None
    """Asks the vendor about the absent ids (past the guard): a delete reason each, None to keep."""


class _Keep:
    def __repr__(self) -> str:
        return "KEEP_CHECKPOINT"


KEEP_CHECKPOINT: Final = _Keep()
"""A page that does not move the checkpoint says so explicitly (a None would erase it)."""


PageExtra = Callable[[Any, Any, Any], None]
"""`extra(conn, plan, run)`: more statements in a page's transaction, run once the page is
classified; it may add failed run items to the plan (the webhook inbox marks its deliveries here)."""


@dataclass(frozen=True, slots=True)
class Page:
    """A page of changes, the checkpoint to store once it is applied, and completed scopes.

    `generation` marks every record of the page as seen by a multi-run walk (see `Sweep`).
    """

    changes: Sequence[Change]
    checkpoint: Checkpoint | _Keep
    sweeps: Sequence[Sweep] = ()
    generation: str | None = None
    extra: PageExtra | None = None

    def __post_init__(self) -> None:
        if self.checkpoint is None:
            raise TypeError("a Page needs a checkpoint, or KEEP_CHECKPOINT to keep the stored one")
