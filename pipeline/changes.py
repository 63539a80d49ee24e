"""Value objects that flow through a run: Change, Sweep, Page, and the checkpoint type.

A *change* is one vendor record (already carrying its context, e.g. the channel) or the deletion of
one. A *page* is what the orchestrator applies in one transaction (DESIGN §4). A *sweep* says that a
scope was walked completely in this run, so deletion by absence may run for it (DESIGN §4).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Checkpoint = dict[str, Any]
"""What we persist between runs, as JSON. The vendor's page token (the *cursor*) lives inside it."""

Operation = Literal["created", "updated", "deleted", "noop"]


@dataclass(frozen=True, slots=True)
class Change:
    """One record to upsert (`record` set) or one external id to delete (`record` is None)."""

    external_id: str
    record: Mapping[str, Any] | None
    delete_reason: str | None = None

    @property
    def is_delete(self) -> bool:
        return self.record is None

    @classmethod
    def upsert(cls, external_id: str, record: Mapping[str, Any]) -> Change:
        return cls(external_id, record)

    @classmethod
    def delete(cls, external_id: str, reason: str = "deleted") -> Change:
        return cls(external_id, None, reason)


@dataclass(frozen=True, slots=True)
class Sweep:
    """Deletion by absence for a scope walked completely and cleanly in this run.

    Every live entity matching `where` (typed-column equality) and `between` (column, low, high,
    inclusive) whose external id is not in `seen` is tombstoned with `reason`, unless that would be
    more than `max_fraction` of the live entities in scope: then nothing is, and the run is `partial`.
    """

    scope: str
    seen: Collection[str]
    where: Mapping[str, Any] = field(default_factory=dict)
    between: tuple[str, Any, Any] | None = None
    max_fraction: float = 0.5
    reason: str = "absent"


@dataclass(frozen=True, slots=True)
class Page:
    """A page of changes, the checkpoint to store once it is applied, and completed scopes."""

    changes: Sequence[Change]
    checkpoint: Checkpoint
    sweeps: Sequence[Sweep] = ()
