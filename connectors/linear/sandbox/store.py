"""The sandbox's Linear workspace: teams, users, workflow states, projects, labels and issues, on a
fake clock, with the mutations the control plane offers (vendors.md §4.2, §6.4.2).

Archive sets `archivedAt`; trash sets `trashed` and `archivedAt`; both keep `updatedAt` unless
`archive_bumps_updated_at` is on (whether Linear bumps it is unverified, §4.2: the switch tests
both). A trashed issue is purged for good once `grace_s` (30 days) of fake time has passed; purged
issues vanish from every query and are remembered only in `purged` (the ground truth).
"""

from __future__ import annotations

import random
import threading
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

DEFAULT_NOW = datetime(2026, 1, 1, tzinfo=UTC).timestamp()  # pipeline FakeClock's default start
GRACE_S = 30 * 86_400.0  # "permanently deleted after a 30-day grace period" (§4.2)
PRIORITY_LABELS = ("No priority", "Urgent", "High", "Medium", "Low")
STATE_TYPES = ("triage", "backlog", "unstarted", "started", "completed", "canceled")


class SandboxError(Exception):
    """A request the workspace refuses, e.g. an unknown issue id; `code` is Linear's error code."""

    def __init__(self, message: str, code: str = "INVALID_INPUT") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class SandboxClock:
    """Fake time in float seconds: a linked `source` (a pipeline `FakeClock`, or a callable giving a
    datetime or epoch seconds) plus a manual offset. `advance` moves a linked FakeClock itself, so
    the client's waits and the sandbox's rate-limit refills share one timeline; it never sleeps."""

    def __init__(self, source: object = None, start: float = DEFAULT_NOW) -> None:
        self._source = source
        self._offset = 0.0 if source is not None else float(start)

    def now(self) -> float:
        return self._read_source() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        advance = getattr(self._source, "advance", None)
        if callable(advance):
            advance(seconds)
        else:
            self._offset += seconds

    def set(self, now: float) -> None:
        self._offset = float(now) - self._read_source()

    def _read_source(self) -> float:
        if self._source is None:
            return 0.0
        read = getattr(self._source, "now", self._source)
        value = read() if callable(read) else read
        if isinstance(value, datetime):
            return value.timestamp()
        return float(value)  # type: ignore[arg-type]


@dataclass
class Team:
    id: str
    key: str
    name: str
    created_ms: int
    next_number: int = 1


@dataclass
class User:
    id: str
    name: str
    email: str
    created_ms: int
    active: bool = True


@dataclass
class State:
    id: str
    team_id: str
    name: str
    type: str
    color: str
    position: float
    created_ms: int


@dataclass
class Named:
    """A project or a label: an id, a name and a colour is all the connector reads."""

    id: str
    name: str
    color: str
    created_ms: int


@dataclass
class Issue:
    id: str
    team_id: str
    number: int
    title: str
    state_id: str
    created_ms: int
    updated_ms: int
    description: str | None = None
    priority: int = 0
    estimate: float | None = None
    assignee_id: str | None = None
    creator_id: str | None = None
    project_id: str | None = None
    label_ids: list[str] = field(default_factory=list)
    started_ms: int | None = None
    completed_ms: int | None = None
    canceled_ms: int | None = None
    archived_ms: int | None = None
    trashed: bool = False
    trashed_ms: int | None = None


# Fields `update_issue` accepts, and which attribute each one sets (vendors.md §6.1.3 "edit").
EDITABLE = {
    "title": "title",
    "description": "description",
    "priority": "priority",
    "estimate": "estimate",
    "state": "state_id",
    "assignee": "assignee_id",
    "project": "project_id",
    "labels": "label_ids",
}

# The names Linear's webhooks use in `updatedFrom` for those fields (previous values, §4.2).
WIRE_NAMES = {
    "title": "title",
    "description": "description",
    "priority": "priority",
    "estimate": "estimate",
    "state": "stateId",
    "assignee": "assigneeId",
    "project": "projectId",
    "labels": "labelIds",
}


class Store:
    """One Linear workspace. Thread-safe: the app holds `lock` around every request's work."""

    def __init__(self, clock: SandboxClock, *, org_name: str = "Sandbox Inc") -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.org = {"id": "", "name": org_name, "urlKey": "sandbox"}
        self.teams: dict[str, Team] = {}
        self.users: dict[str, User] = {}
        self.states: dict[str, State] = {}
        self.projects: dict[str, Named] = {}
        self.labels: dict[str, Named] = {}
        self.issues: dict[str, Issue] = {}
        self.purged: dict[str, float] = {}  # issue id → fake time it was purged
        self.viewer_id = ""
        self.grace_s = GRACE_S
        self.archive_bumps_updated_at = False
        self.on_change: Callable[[str, Issue, dict[str, Any]], None] | None = None
        self.rng = random.Random(0)  # ids of issues created later: deterministic too
        self.trashed_ids: set[str] = set()  # what purge_due looks at
        self.version = 0  # bumped by every change: invalidates the sorted views
        self._views: dict[str, tuple[int, list[tuple[int, str]], list[Issue]]] = {}

    # reads -------------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def ordered(self, attr: str) -> tuple[list[tuple[int, str]], list[Issue]]:
        """Issues sorted by (`attr`, id) ascending, and their keys; cached until the next change."""
        view = self._views.get(attr)
        if view is None or view[0] != self.version:
            rows = sorted(self.issues.values(), key=attrgetter(attr, "id"))
            view = self._views[attr] = (
                self.version,
                [(getattr(i, attr), i.id) for i in rows],
                rows,
            )
        return view[1], view[2]

    def after(self, attr: str, mark: tuple[int, str] | None, descending: bool) -> list[Issue]:
        """Issues strictly after `mark` in (`attr`, id) order: the rest of a key-set walk."""
        keys, rows = self.ordered(attr)
        if descending:
            end = len(rows) if mark is None else bisect_left(keys, mark)
            return rows[:end][::-1]
        start = 0 if mark is None else bisect_right(keys, mark)
        return rows[start:]

    def touch(self) -> None:
        self.version += 1

    def issue(self, ref: str) -> Issue:
        """An issue by UUID or by identifier (`ENG-12`); purged issues are not found."""
        self.purge_due()
        found = self.issues.get(ref) or self._by_identifier(ref)
        if found is None:
            raise SandboxError(f"Entity not found: Issue {ref!r}", "INVALID_INPUT")
        return found

    def identifier(self, issue: Issue) -> str:
        return f"{self.teams[issue.team_id].key}-{issue.number}"

    def team(self, ref: str) -> Team:
        for team in self.teams.values():
            if ref in (team.id, team.key):
                return team
        raise SandboxError(f"Entity not found: Team {ref!r}")

    def state_named(self, team_id: str, ref: str) -> State:
        """A team's workflow state by id, name (`Done`) or type (`completed`)."""
        for state in self.states.values():
            if state.team_id == team_id and ref in (state.id, state.name, state.type):
                return state
        raise SandboxError(f"Entity not found: WorkflowState {ref!r}")

    def user(self, ref: str) -> User:
        for user in self.users.values():
            if ref in (user.id, user.email, user.name):
                return user
        raise SandboxError(f"Entity not found: User {ref!r}")

    def _by_identifier(self, ref: str) -> Issue | None:
        key, _, number = ref.rpartition("-")
        if not key or not number.isdigit():
            return None
        team = next((t for t in self.teams.values() if t.key == key), None)
        if team is None:
            return None
        return next(
            (i for i in self.issues.values() if i.team_id == team.id and i.number == int(number)),
            None,
        )

    # mutations ---------------------------------------------------------------------------------

    def create_issue(self, team: str, title: str, **fields: Any) -> Issue:
        """A new issue in `team` (id or key), created and updated now; `fields` as `update_issue`."""
        owner = self.team(team)
        now = self.now_ms()
        state = self.state_named(owner.id, str(fields.pop("state", "unstarted")))
        issue = Issue(
            id=fields.pop("id", None) or self._new_id(),
            team_id=owner.id,
            number=owner.next_number,
            title=title,
            state_id=state.id,
            created_ms=int(fields.pop("created_ms", now)),
            updated_ms=now,
            creator_id=self.viewer_id or None,
        )
        owner.next_number += 1
        self._apply(issue, fields)
        self.issues[issue.id] = issue
        self._changed("create", issue, {})
        return issue

    def update_issue(self, ref: str, **fields: Any) -> Issue:
        """Edit fields (`EDITABLE` names; state/assignee by name too); bumps `updatedAt`."""
        issue = self.issue(ref)
        unknown = set(fields) - set(EDITABLE)
        if unknown:
            raise SandboxError(f"unknown fields {sorted(unknown)}; editable: {sorted(EDITABLE)}")
        before = {WIRE_NAMES[n]: getattr(issue, a) for n, a in EDITABLE.items() if n in fields}
        before["updatedAt"] = iso(issue.updated_ms)
        self._apply(issue, fields)
        issue.updated_ms = max(self.now_ms(), issue.updated_ms + 1)
        self._changed("update", issue, before)
        return issue

    def archive(self, ref: str) -> Issue:
        """Set `archivedAt` (hidden unless `includeArchived`); `updatedAt` kept by default."""
        issue = self.issue(ref)
        issue.archived_ms = self.now_ms()
        self._soft_deleted(issue, "update", {"archivedAt": None})
        return issue

    def trash(self, ref: str) -> Issue:
        """`issueDelete`: `trashed: true` and `archivedAt`; purged for good after the grace period."""
        issue = self.issue(ref)
        issue.trashed, issue.trashed_ms = True, self.now_ms()
        self.trashed_ids.add(issue.id)
        issue.archived_ms = issue.archived_ms or issue.trashed_ms
        self._soft_deleted(issue, "remove", {"trashed": None})
        return issue

    def unarchive(self, ref: str) -> Issue:
        """Restore an archived or trashed issue. Treated as an edit: it bumps `updatedAt`."""
        issue = self.issue(ref)
        before = {"archivedAt": _iso(issue.archived_ms), "trashed": issue.trashed or None}
        issue.archived_ms, issue.trashed, issue.trashed_ms = None, False, None
        self.trashed_ids.discard(issue.id)
        issue.updated_ms = max(self.now_ms(), issue.updated_ms + 1)
        self._changed("update", issue, before)
        return issue

    def purge(self, ref: str) -> None:
        """Delete for good now (an admin's `permanentlyDelete`): the issue is gone from every query."""
        issue = self.issue(ref)
        del self.issues[issue.id]
        self.trashed_ids.discard(issue.id)
        self.purged[issue.id] = self.clock.now()
        self.touch()
        if not issue.trashed:  # a trashed issue's `remove` went out when it was trashed
            self._changed("remove", issue, {})

    def purge_due(self) -> list[str]:
        """Purge every trashed issue whose grace period has run out; returns their ids."""
        cutoff = self.now_ms() - int(self.grace_s * 1000)
        trashed = [self.issues[i] for i in self.trashed_ids if i in self.issues]
        due = [i for i in trashed if i.trashed_ms is not None and i.trashed_ms <= cutoff]
        for issue in due:
            self.trashed_ids.discard(issue.id)
            del self.issues[issue.id]
            self.purged[issue.id] = self.clock.now()
            self.touch()
        return [i.id for i in due]

    def _soft_deleted(self, issue: Issue, action: str, before: dict[str, Any]) -> None:
        if self.archive_bumps_updated_at:
            issue.updated_ms = max(self.now_ms(), issue.updated_ms + 1)
        self._changed(action, issue, before)

    def _apply(self, issue: Issue, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if name not in EDITABLE:
                raise SandboxError(f"unknown field {name!r}; editable: {sorted(EDITABLE)}")
            setattr(issue, EDITABLE[name], self._resolve(issue, name, value))
        self._stamp_state_times(issue)

    def _resolve(self, issue: Issue, name: str, value: Any) -> Any:
        """Control-plane values by name (`state="Done"`, `assignee="ada@…"`) → stored ids."""
        if value is None or value == "":
            return [] if name == "labels" else None
        if name == "state":
            return self.state_named(issue.team_id, str(value)).id
        if name == "assignee":
            return self.user(str(value)).id
        if name == "project":
            return self._named(self.projects, str(value)).id
        if name == "labels":
            refs = value.split(",") if isinstance(value, str) else list(value)
            return [self._named(self.labels, str(r).strip()).id for r in refs]
        if name == "priority":
            return int(value)
        if name == "estimate":
            return float(value)
        return str(value)

    def _named(self, table: dict[str, Named], ref: str) -> Named:
        for item in table.values():
            if ref in (item.id, item.name):
                return item
        raise SandboxError(f"Entity not found: {ref!r}")

    def _stamp_state_times(self, issue: Issue) -> None:
        """`startedAt` / `completedAt` / `canceledAt` follow the workflow state's type."""
        kind = self.states[issue.state_id].type
        now = self.now_ms()
        if kind == "started" and issue.started_ms is None:
            issue.started_ms = now
        issue.completed_ms = (issue.completed_ms or now) if kind == "completed" else None
        issue.canceled_ms = (issue.canceled_ms or now) if kind == "canceled" else None

    def _changed(self, action: str, issue: Issue, before: dict[str, Any]) -> None:
        self.touch()
        if self.on_change is not None:
            self.on_change(action, issue, before)

    def _new_id(self) -> str:
        return new_id(self.rng)


def new_id(rng: random.Random) -> str:
    """A UUID v4 drawn from `rng`: Linear's ids are UUIDs (§6.1.1), ours are reproducible."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(ms: int | None) -> str | None:
    return iso(ms) if ms is not None else None


@lru_cache(maxsize=1 << 16)
def iso(ms: int) -> str:
    """Linear's DateTime wire form: ISO 8601 UTC with milliseconds, `2026-01-01T00:00:00.000Z`."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
