"""Query resolvers: `issues`, `issue`, `teams`, `viewer`, `organization` over the store, with
Linear's filter, `includeArchived` and Relay paging semantics (vendors.md §4.2, §6.4).

Nodes are rendered as plain dicts (graphql-core's default resolver reads them); a nested
connection (`labels(first:)`) is a callable, which that resolver calls with its arguments.
`orderBy: updatedAt` lists the most recently updated first, like Linear's API ("to get the most
recently updated resources, order by updatedAt"; pagination docs); `sort="asc"` flips it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .cursors import Cursors, Position
from .store import PRIORITY_LABELS, Issue, SandboxError, Store, iso

Node = dict[str, Any]
Filter = dict[str, Any]
DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
UNIT_S = {"Y": 365 * 86400, "M": 30 * 86400, "W": 7 * 86400, "D": 86400, "h": 3600, "m": 60, "s": 1}
DATE_FIELDS = {
    "createdAt": "created_ms",
    "updatedAt": "updated_ms",
    "archivedAt": "archived_ms",
    "completedAt": "completed_ms",
    "canceledAt": "canceled_ms",
}


class Root:
    """The root value of every query: one per request, reading the store under the app's lock."""

    def __init__(self, store: Store, cursors: Cursors, *, max_first: int, sort: str) -> None:
        self.store = store
        self.cursors = cursors
        self.max_first = max_first
        self.sort = sort
        self.nodes_served = 0

    def issues(self, info: Any, **args: Any) -> Node:
        self.store.purge_due()
        order = args.get("orderBy") or "createdAt"
        limit = self.limit(args)
        after = args.get("after")
        position = self.cursors.decode(after) if after else None
        if position is not None and position.order != order:
            raise SandboxError("Argument Validation Error: cursor is for another orderBy")
        page = self._take(order, position, args, limit + 1)
        self.nodes_served += min(len(page), limit)
        return self._connection(page, order, position, render_issue, has_more=len(page) > limit)

    def issue(self, info: Any, id: str) -> Node:
        return render_issue(self.store, self.store.issue(id))

    def teams(self, info: Any, **args: Any) -> Node:
        teams = [render_team(t) for t in self.store.teams.values()]
        nodes = [t for t in teams if team_matches(t, args.get("filter") or {})]
        info_ = {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        }
        return {
            "nodes": nodes,
            "edges": [{"node": n, "cursor": n["id"]} for n in nodes],
            "pageInfo": info_,
        }

    def viewer(self, info: Any) -> Node:
        return render_user(self.store, self.store.viewer_id)

    def organization(self, info: Any) -> Node:
        return dict(self.store.org)

    def limit(self, args: dict[str, Any]) -> int:
        """`first` (default 50), refused when out of range like Linear's argument validation."""
        if args.get("last") is not None or args.get("before") is not None:
            raise SandboxError("Argument Validation Error: backward paging is not supported here")
        first = args.get("first")
        if first is None:
            return 50
        if not 0 < first <= self.max_first:
            raise SandboxError(
                f"Argument Validation Error: first must be between 1 and {self.max_first}"
            )
        return int(first)

    def _take(
        self, order: str, position: Position | None, args: dict[str, Any], wanted: int
    ) -> list[Issue]:
        """Up to `wanted` issues after `position` that pass `includeArchived` and the filter."""
        attr = "updated_ms" if order == "updatedAt" else "created_ms"
        mark = (position.key, position.id) if position else None
        archived_too, flt = bool(args.get("includeArchived")), args.get("filter") or {}
        now = self.store.now_ms()
        page: list[Issue] = []
        for issue in self.store.after(attr, mark, self.sort == "desc"):
            if (archived_too or issue.archived_ms is None) and matches(self.store, issue, flt, now):
                page.append(issue)
                if len(page) == wanted:
                    break
        return page

    def _connection(
        self,
        page: list[Issue],
        order: str,
        position: Position | None,
        render: Callable[[Store, Issue], Node],
        *,
        has_more: bool,
    ) -> Node:
        page = page[: len(page) - 1] if has_more else page
        number = (position.page if position else 0) + 1
        attr = "updated_ms" if order == "updatedAt" else "created_ms"
        cursors = [
            self.cursors.encode(Position(order, getattr(i, attr), i.id, number)) for i in page
        ]
        nodes = [render(self.store, i) for i in page]
        return {
            "nodes": nodes,
            "edges": [{"node": n, "cursor": c} for n, c in zip(nodes, cursors, strict=True)],
            "pageInfo": {
                "hasNextPage": has_more,
                "hasPreviousPage": position is not None,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
            },
        }


# rendering ---------------------------------------------------------------------------------


def render_issue(store: Store, issue: Issue) -> Node:
    team = store.teams[issue.team_id]
    labels = [render_named(store.labels[label]) for label in issue.label_ids]
    return {
        "id": issue.id,
        "identifier": f"{team.key}-{issue.number}",
        "number": float(issue.number),
        "title": issue.title,
        "description": issue.description,
        "priority": float(issue.priority),
        "priorityLabel": PRIORITY_LABELS[issue.priority] if 0 <= issue.priority < 5 else "",
        "estimate": issue.estimate,
        "url": f"https://linear.app/{store.org['urlKey']}/issue/{team.key}-{issue.number}",
        "createdAt": iso(issue.created_ms),
        "updatedAt": iso(issue.updated_ms),
        "archivedAt": _iso(issue.archived_ms),
        "autoArchivedAt": None,
        "trashed": True if issue.trashed else None,
        "startedAt": _iso(issue.started_ms),
        "completedAt": _iso(issue.completed_ms),
        "canceledAt": _iso(issue.canceled_ms),
        "dueDate": None,
        "state": render_state(store, issue.state_id),
        "team": render_team(team),
        "assignee": render_user(store, issue.assignee_id) if issue.assignee_id else None,
        "creator": render_user(store, issue.creator_id) if issue.creator_id else None,
        "project": render_named(store.projects[issue.project_id]) if issue.project_id else None,
        "labelIds": list(issue.label_ids),
        "labels": _nested_connection(labels),
    }


def issue_record(store: Store, issue: Issue) -> Node:
    """An issue as plain JSON data, the way a query selecting every field would see it (the
    ground truth of `state()`, control-plane answers and webhook payloads)."""
    node = render_issue(store, issue)
    node["labels"] = {"nodes": node["labels"](None)["nodes"]}
    return node


def _nested_connection(nodes: list[Node]) -> Callable[..., Node]:
    def resolve(info: Any, **args: Any) -> Node:
        shown = nodes[: args.get("first") or 50]
        return {
            "nodes": shown,
            "edges": [{"node": n, "cursor": n["id"]} for n in shown],
            "pageInfo": {
                "hasNextPage": len(shown) < len(nodes),
                "hasPreviousPage": False,
                "startCursor": shown[0]["id"] if shown else None,
                "endCursor": shown[-1]["id"] if shown else None,
            },
        }

    return resolve


def render_state(store: Store, state_id: str) -> Node:
    state = store.states[state_id]
    return {
        "id": state.id,
        "name": state.name,
        "type": state.type,
        "color": state.color,
        "position": state.position,
        "team": render_team(store.teams[state.team_id]),
        "createdAt": iso(state.created_ms),
        "updatedAt": iso(state.created_ms),
        "archivedAt": None,
    }


def render_team(team: Any) -> Node:
    return {
        "id": team.id,
        "key": team.key,
        "name": team.name,
        "createdAt": iso(team.created_ms),
        "updatedAt": iso(team.created_ms),
        "archivedAt": None,
    }


def render_user(store: Store, user_id: str) -> Node:
    user = store.users[user_id]
    return {
        "id": user.id,
        "name": user.name,
        "displayName": user.name.split()[0].lower(),
        "email": user.email,
        "active": user.active,
        "admin": user.id == store.viewer_id,
        "createdAt": iso(user.created_ms),
        "updatedAt": iso(user.created_ms),
        "archivedAt": None,
        "organization": dict(store.org),
    }


def render_named(item: Any) -> Node:
    return {
        "id": item.id,
        "name": item.name,
        "color": item.color,
        "createdAt": iso(item.created_ms),
        "updatedAt": iso(item.created_ms),
        "archivedAt": None,
    }


def _iso(ms: int | None) -> str | None:
    return iso(ms) if ms is not None else None


# filters -----------------------------------------------------------------------------------


def matches(store: Store, issue: Issue, flt: Filter, now_ms: int) -> bool:
    """Does `issue` pass an `IssueFilter` (every key must hold; `and` / `or` nest)."""
    for key, value in flt.items():
        if value is None:
            continue
        if key == "and" and not all(matches(store, issue, f, now_ms) for f in value):
            return False
        if key == "or" and not any(matches(store, issue, f, now_ms) for f in value):
            return False
        if key == "id" and not compare(issue.id, value, lambda v: v):
            return False
        if key == "team" and not team_matches(render_team(store.teams[issue.team_id]), value):
            return False
        if key in DATE_FIELDS:
            actual = getattr(issue, DATE_FIELDS[key])
            if not compare(actual, value, lambda v: parse_when(v, now_ms)):
                return False
    return True


def team_matches(team: Node, flt: Filter) -> bool:
    for key, value in flt.items():
        if value is None:
            continue
        if key == "and" and not all(team_matches(team, f) for f in value):
            return False
        if key == "or" and not any(team_matches(team, f) for f in value):
            return False
        if key in ("id", "key", "name") and not compare(team[key], value, lambda v: v):
            return False
    return True


def compare(actual: Any, comparator: Filter, convert: Callable[[Any], Any]) -> bool:
    """One Linear comparator (`eq`, `neq`, `gt`, `gte`, `lt`, `lte`, `in`, `nin`, `null`)."""
    for op, raw in comparator.items():
        if raw is None:
            continue
        if op == "null":
            if (actual is None) != bool(raw):
                return False
            continue
        if actual is None:
            return op in ("neq", "nin")
        if not _holds(op, actual, raw, convert):
            return False
    return True


def _holds(op: str, actual: Any, raw: Any, convert: Callable[[Any], Any]) -> bool:
    if op in ("in", "nin"):
        found = actual in {convert(v) for v in _as_list(raw)}
        return found if op == "in" else not found
    value = convert(raw)
    outcome: bool = {
        "eq": actual == value,
        "neq": actual != value,
        "gt": actual > value,
        "gte": actual >= value,
        "lt": actual < value,
        "lte": actual <= value,
    }[op]
    return outcome


def _as_list(raw: Any) -> Iterable[Any]:
    return raw if isinstance(raw, list | tuple) else [raw]


def parse_when(value: Any, now_ms: int) -> int:
    """A `DateTimeOrDuration` → epoch ms: an ISO instant, a year (`2021`), or a duration from now."""
    text = str(value).strip()
    duration = DURATION.match(text)
    if duration and text not in ("P", "-P", "+P"):
        seconds = sum(float(duration[unit] or 0) * size for unit, size in UNIT_S.items())
        return now_ms + int(seconds * 1000) * (-1 if duration["sign"] == "-" else 1)
    if re.fullmatch(r"\d{4}", text):
        text = f"{text}-01-01"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SandboxError(f"Argument Validation Error: invalid date {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
