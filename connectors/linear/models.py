"""The canonical Linear issue (DESIGN §7, vendors.md §4.2): what `linear_issues.data` holds and
what the differ compares.

Nested objects are flattened to the values people recognise, with the id beside them where the
table has a column for it: a state change reads `state: {from: "Todo", to: "Done"}` (and
`state_type` when the kind of state changed too), a reassignment `assignee: {from: "Ada Lovelace",
to: "Grace Hopper"}` with `assignee_id`. Labels are a set of ids (`labelIds`: the labels connection
costs ~20x the complexity, graphql.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Issue(BaseModel):
    """One Linear issue, keyed by its UUID `id`."""

    model_config = ConfigDict(extra="ignore")

    id: str
    identifier: str
    number: int
    title: str
    description: str | None = None
    priority: int = 0
    estimate: float | None = None
    team_key: str
    state: str
    state_type: str
    assignee_id: str | None = None
    assignee: str | None = None
    project_id: str | None = None
    project: str | None = None
    label_ids: list[str] = []
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    archived_at: datetime | None = None
    trashed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, raw: Any) -> Any:
        """A GraphQL `Issue` node (camelCase, nested) → this model's flat fields.

        Only the fields the node carries are set: a poll's node carries every field the query
        selects; a webhook's may carry fewer, and a field left unset keeps its stored value.
        """
        if not isinstance(raw, dict) or "createdAt" not in raw:
            return raw
        flat = {name: get(raw[source]) for name, (source, get) in FLAT.items() if source in raw}
        return flat | _objects(raw)


def _objects(raw: dict[str, Any]) -> dict[str, Any]:
    """`assignee: {id, name}` → `assignee_id`, `assignee`: each field the object carries (a
    webhook may name an assignee by id alone); a null object (unassigned) nulls them all."""
    flat: dict[str, Any] = {}
    for source, fields in OBJECTS.items():
        if source not in raw:
            continue
        value = raw[source] or {}
        for field, name in fields:
            if field in value or not value:
                flat[name] = value.get(field)
    return flat


def _same(value: Any) -> Any:
    return value


FLAT: dict[str, tuple[str, Callable[[Any], Any]]] = {  # canonical name → (node field, mapping)
    **{k: (k, _same) for k in ("id", "identifier", "title", "description", "estimate")},
    "number": ("number", int),
    "priority": ("priority", lambda v: int(v or 0)),
    "label_ids": ("labelIds", lambda v: sorted(v or [])),
    "created_at": ("createdAt", _same),
    "updated_at": ("updatedAt", _same),
    "completed_at": ("completedAt", _same),
    "canceled_at": ("canceledAt", _same),
    "archived_at": ("archivedAt", _same),
    "trashed": ("trashed", bool),
}
OBJECTS = {  # the node's object → (its field, canonical name) pairs
    "team": (("key", "team_key"),),
    "state": (("name", "state"), ("type", "state_type")),
    "assignee": (("id", "assignee_id"), ("name", "assignee")),
    "project": (("id", "project_id"), ("name", "project")),
}
