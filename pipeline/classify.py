"""Classification of a page's changes (DESIGN §4 steps 3 to 6): the plan a page transaction writes.

Hash gate first, then validation into the canonical model, then the field diff, only for the records
whose hash changed. A record that fails validation becomes a failed run item; the rest go on.

The records of a page that pass the hash gate are validated and dumped in one call each
(`TypeAdapter(list[Model])`); only when that batch fails is each record validated on its own, so a
failed item carries exactly the error `Model.model_validate` gives for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from pipeline.changes import Change
from pipeline.differ import FieldDiffer, content_hasher
from pipeline.errors import redact
from pipeline.events import build_payload, event_id, event_type, time_ordered_uuid
from pipeline.ports import Sink, StoredRow
from pipeline.registry import Stream

_CANONICAL_ERRORS = (ValidationError, ValueError, TypeError)
_PAGE_ADAPTERS: dict[type[BaseModel], TypeAdapter[list[Any]]] = {}


def page_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    """`TypeAdapter(list[model])`, built once per model (building one costs milliseconds)."""
    adapter = _PAGE_ADAPTERS.get(model)
    if adapter is None:
        adapter = _PAGE_ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter


@dataclass
class Plan:
    """Everything one page transaction writes, and its counters."""

    upserts: list[dict[str, Any]] = field(default_factory=list)
    tombstones: list[dict[str, Any]] = field(default_factory=list)
    rehashes: list[dict[str, Any]] = field(default_factory=list)
    """Noops whose stored hash is stale (the raw record moved, its canonical form did not)."""
    items: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "created": 0,
            "updated": 0,
            "deleted": 0,
            "noop": 0,
            "failed": 0,
            "skipped": 0,
        }
    )


@dataclass
class _Pending:
    """A validated record whose hash differs from a live stored row: needs its stored data."""

    change: Change
    stored: StoredRow
    canonical: dict[str, Any]
    digest: str


class Classifier:
    """Turns a page of changes plus the stored rows into a `Plan`."""

    def __init__(self, stream: Stream, sink: Sink, subscription_id: str, run_id: str) -> None:
        self.stream = stream
        self.sink = sink
        self.subscription_id = subscription_id
        self.run_id = run_id
        self.differ = FieldDiffer(ignore=stream.volatile, unordered=stream.unordered)
        self._adapter = page_adapter(stream.model)
        self._hash = content_hasher(stream.volatile, stream.unordered)
        self._fields = frozenset(stream.model.model_fields)
        self._field_count = len(self._fields)
        self._unset: dict[int, frozenset[str]] = {}
        self._types = {
            op: event_type(stream.entity, op) for op in ("created", "updated", "deleted")
        }

    def classify(
        self, changes: Sequence[Change], stored: Mapping[str, StoredRow], now: datetime
    ) -> tuple[Plan, list[_Pending]]:
        """First pass: noops by hash, creates, deletes; returns the updates that need a diff.

        The hash gate runs over the whole page first, then the records past it are validated as
        one batch; the plan is then built in the page's order.
        """
        plan, pending = Plan(), []
        self._unset.clear()
        digest_of, find, noop = self._hash, stored.get, 0
        todo: list[tuple[Change, StoredRow | None, str | None]] = []  # digest None: a delete
        for change in changes:
            row = find(change.external_id)
            if change.is_own_write:
                self._skipped(plan, change, row, now)
                continue
            if change.record is None:
                todo.append((change, row, None))
                continue
            if not change.restores and row is not None and row.is_deleted:
                noop += 1  # a late hint about an entity deleted since: it stays deleted
                continue
            digest = digest_of(change.record)
            if row is not None and not row.is_deleted and row.content_hash == digest:
                noop += 1
                continue
            todo.append((change, row, digest))
        plan.counts["noop"] += noop
        canonicals = iter(self.canonical([c.record for c, _, d in todo if d is not None]))
        for change, row, gated in todo:
            if change.error is not None:
                self._failed(
                    plan, change, "created" if row is None else "updated", change.error, now
                )
                continue
            if gated is None:
                self._delete(plan, change, row, now)
                continue
            found = self._upsert(plan, change, row, gated, next(canonicals), now)
            if found is not None:
                pending.append(found)
        return plan, pending

    def canonical(self, records: Sequence[Any]) -> list[dict[str, Any] | Exception]:
        """Each record validated into the stream's model and dumped as JSON-ready data, or the error."""
        if not records:
            return []
        try:
            models = self._adapter.validate_python(records)
        except _CANONICAL_ERRORS:
            return [self._one(record) for record in records]
        try:
            dumped: list[dict[str, Any] | Exception] = self._adapter.dump_python(
                models, mode="json"
            )
        except _CANONICAL_ERRORS:
            dumped = [self._dump_one(model) for model in models]
        for model, data in zip(models, dumped, strict=True):
            self._note_unset(model, data)
        return dumped

    def _one(self, record: Any) -> dict[str, Any] | Exception:
        try:
            model = self.stream.model.model_validate(record)
        except _CANONICAL_ERRORS as exc:
            return exc
        data = self._dump_one(model)
        self._note_unset(model, data)
        return data

    def _note_unset(self, model: BaseModel, data: dict[str, Any] | Exception) -> None:
        """Remember which fields the vendor left out (filled by defaults) for `keep_absent`."""
        if len(model.model_fields_set) < self._field_count and not isinstance(data, Exception):
            self._unset[id(data)] = self._fields - model.model_fields_set

    @staticmethod
    def _dump_one(model: BaseModel) -> dict[str, Any] | Exception:
        try:
            return model.model_dump(mode="json")
        except _CANONICAL_ERRORS as exc:
            return exc

    def diff_pending(
        self,
        plan: Plan,
        pending: Sequence[_Pending],
        data: Mapping[str, Mapping[str, Any]],
        now: datetime,
    ) -> None:
        """Second pass: field diffs for records whose hash changed against a live row."""
        for p in pending:
            stored = data.get(p.change.external_id, {})
            self.keep_absent(p, stored)
            changed = self.differ.diff(stored, p.canonical)
            if not changed:  # store the new hash, so the next run stops at the gate
                plan.counts["noop"] += 1
                plan.rehashes.append({"b_id": p.stored.id, "b_hash": p.digest})
                continue
            self._write(
                plan,
                "updated",
                p.change.external_id,
                p.stored.id,
                p.stored.version + 1,
                p.canonical,
                p.digest,
                changed,
                now,
            )

    def keep_absent(self, pending: _Pending, stored: Mapping[str, Any]) -> None:
        """A key the vendor left out keeps its stored value (a sparse payload clears nothing)."""
        for name in self._unset.get(id(pending.canonical), ()):
            if name in stored:
                pending.canonical[name] = stored[name]

    def _upsert(
        self,
        plan: Plan,
        change: Change,
        row: StoredRow | None,
        digest: str,
        canonical: dict[str, Any] | Exception,
        now: datetime,
    ) -> _Pending | None:
        if isinstance(canonical, Exception):
            self._failed(plan, change, _operation(row), canonical, now)
            return None
        if row is not None and not row.is_deleted:
            return _Pending(change, row, canonical, digest)
        changed = self.differ.created(canonical)
        if not changed:  # only ignored or null fields: nothing to store (seed-spec §3.3 rule 2)
            plan.counts["noop"] += 1
            return None
        entity_id = row.id if row is not None else time_ordered_uuid()
        version = row.version + 1 if row is not None else 1
        self._write(
            plan, "created", change.external_id, entity_id, version, canonical, digest, changed, now
        )
        return None

    def _skipped(self, plan: Plan, change: Change, row: StoredRow | None, now: datetime) -> None:
        """A change the connector's own app wrote (DESIGN §8 loop prevention): no write, no event."""
        plan.counts["skipped"] += 1
        live = row is not None and not row.is_deleted
        operation = "deleted" if change.is_delete else "updated" if live else "created"
        local_id = row.id if row is not None else None
        self._item(plan, change.external_id, local_id, operation, {}, now, status="skipped")

    def _delete(self, plan: Plan, change: Change, row: StoredRow | None, now: datetime) -> None:
        if row is None or row.is_deleted:
            plan.counts["noop"] += 1  # a delete miss or a re-delete: no write, no event
            return
        plan.tombstones.append(
            {"id": row.id, "deleted_at": now, "delete_reason": change.delete_reason}
        )
        plan.counts["deleted"] += 1
        self._item(plan, change.external_id, row.id, "deleted", {}, now)
        self._event(plan, "deleted", change.external_id, row.id, row.version + 1, None, now)

    def _write(
        self,
        plan: Plan,
        operation: str,
        external_id: str,
        entity_id: str,
        version: int,
        canonical: dict[str, Any],
        digest: str,
        changed: dict[str, Any],
        now: datetime,
    ) -> None:
        plan.upserts.append(
            self.sink.row(
                external_id,
                canonical,
                id=entity_id,
                content_hash=digest,
                version=version,
                created_at=now,
                updated_at=now,
                deleted_at=None,
                delete_reason=None,
            )
        )
        plan.counts[operation] += 1
        self._item(plan, external_id, entity_id, operation, changed, now)
        self._event(plan, operation, external_id, entity_id, version, changed, now)

    def _failed(
        self, plan: Plan, change: Change, operation: str, exc: Exception | str, now: datetime
    ) -> None:
        plan.counts["failed"] += 1
        if isinstance(exc, str):
            error = redact(exc)
        else:
            error = redact(f"{type(exc).__name__}: {exc}".splitlines()[0] + _detail(exc))
        self._item(plan, change.external_id, None, operation, {}, now, status="failed", error=error)

    def _item(
        self,
        plan: Plan,
        external_id: str,
        local_id: str | None,
        operation: str,
        changed: dict[str, Any],
        now: datetime,
        status: str = "success",
        error: str | None = None,
    ) -> None:
        plan.items.append(
            {
                "run_id": self.run_id,
                "tenant_id": self.sink.tenant_id,
                "entity_type": self.stream.entity,
                "external_id": external_id,
                "local_id": local_id,
                "operation": operation,
                "status": status,
                "changed_fields": changed,
                "error": error,
                "created_at": now,
            }
        )

    def _event(
        self,
        plan: Plan,
        operation: str,
        external_id: str,
        entity_id: str,
        version: int,
        changed: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        type_ = self._types[operation]
        plan.events.append(
            {
                "event_id": event_id(self.subscription_id, external_id, type_, version),
                "aggregatetype": self.stream.entity,
                "aggregateid": entity_id,
                "type": type_,
                "payload": build_payload(entity_id, external_id, self.stream.provider, changed),
                "tenant_id": self.sink.tenant_id,
                "source": "integration",
                "subscription_id": self.subscription_id,
                "run_id": self.run_id,
                "occurred_at": now,
            }
        )


def _operation(row: StoredRow | None) -> str:
    """What a failed item would have done: create (nothing live stored) or update."""
    return "created" if row is None or row.is_deleted else "updated"


def _detail(exc: Exception) -> str:
    """The full validation message on one line (pydantic's spans several)."""
    lines = str(exc).splitlines()[1:]
    return (" | " + " ".join(line.strip() for line in lines)) if lines else ""
