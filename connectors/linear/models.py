"""The canonical Linear issue (DESIGN §7, vendors.md §4.2): what `linear_issues.data` holds and
what the differ compares.

Nested objects are flattened to the values people recognise, with the id beside them where the
table has a column for it: a state change reads `state: {from: "Todo", to: "Done"}` (and
`state_type` when the kind of state changed too), a reassignment `assignee: {from: "Ada Lovelace",
to: "Grace Hopper"}` with `assignee_id`. Labels are a set of ids (`labelIds`: the labels connection
costs ~20x the complexity, graphql.py).
"""

from __future__ import annotations

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
        """A GraphQL `Issue` node (camelCase, nested) → this model's flat fields."""
        if not isinstance(raw, dict) or "createdAt" not in raw:
            return raw
        state, team = raw.get("state") or {}, raw.get("team") or {}
        assignee, project = raw.get("assignee") or {}, raw.get("project") or {}
        return {
            **{k: raw.get(k) for k in ("id", "identifier", "title", "description", "estimate")},
            "number": int(raw["number"]),
            "priority": int(raw.get("priority") or 0),
            "team_key": team.get("key"),
            "state": state.get("name"),
            "state_type": state.get("type"),
            "assignee_id": assignee.get("id"),
            "assignee": assignee.get("name"),
            "project_id": project.get("id"),
            "project": project.get("name"),
            "label_ids": sorted(raw.get("labelIds") or []),
            "created_at": raw.get("createdAt"),
            "updated_at": raw.get("updatedAt"),
            "completed_at": raw.get("completedAt"),
            "canceled_at": raw.get("canceledAt"),
            "archived_at": raw.get("archivedAt"),
            "trashed": bool(raw.get("trashed")),
        }
