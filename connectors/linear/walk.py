"""The `linear-issues` walk (DESIGN §4, §7; vendors.md §4.2): which issues to ask for, in which
pages, and what to checkpoint after each one.

- An incremental walk asks for `updatedAt >= high water − skew` **or** `archivedAt > archive mark`
  (archiving may keep `updatedAt`), within the configured teams, including archived issues.
- A complete walk (the first sync, `--full-refresh`, and every `full_every_runs` runs or
  `full_every_s` on its own) asks for everything and, when it finished in this very run, sweeps
  what did not come back: issues purged for good are found by absence, guarded by the engine.
- Linear lists `orderBy: updatedAt` most recent first, so the high water cannot move per page:
  each page checkpoints the walk (its filter, cursor and the maxima seen so far) and the high
  water advances when the walk ends. A crash resumes the same walk at its last committed cursor.
- A query refused as too complex is asked again with half the page size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline import Change, Checkpoint, Page, Sweep

from .graphql import ISSUES_QUERY, QueryTooComplexError, issue_filter, page_of

Post = Callable[[dict[str, Any]], dict[str, Any]]  # GraphQL request body → answer body
SKEW_S = 300.0  # re-read the last 5 minutes: Linear's clock and write order are not ours


@dataclass
class Walk:
    """One walk in progress, as stored in the checkpoint between pages."""

    complete: bool
    filter: dict[str, Any] | None
    cursor: str | None = None
    max_updated: str | None = None
    max_archived: str | None = None
    started_here: bool = True  # not stored: a resumed walk saw only part of the issues
    seen: set[str] = field(default_factory=set)

    def stored(self) -> dict[str, Any]:
        keys = ("complete", "filter", "cursor", "max_updated", "max_archived")
        return {k: getattr(self, k) for k in keys}


class IssuesWalk:
    """Pages of `Change`s for one run; `post` sends one GraphQL request and returns the body."""

    def __init__(
        self,
        post: Post,
        now: Callable[[], datetime],
        *,
        teams: list[str] | None = None,
        first: int = 250,
        full_every_runs: int = 24,
        full_every_s: float = 86_400.0,
    ) -> None:
        self.post = post
        self.now = now
        self.teams = teams or None
        self.first = first
        self.full_every_runs = full_every_runs
        self.full_every_s = full_every_s

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        state = dict(checkpoint or {})
        walk = self._resume(state) or self._begin(state)
        while True:
            nodes, has_next, cursor = self._fetch(walk)
            changes = [self._change(node, walk) for node in nodes]
            walk.cursor = cursor
            if not has_next:
                yield Page(changes, self._finished(state, walk), self._sweeps(walk))
                return
            state["walk"], state["teams"] = walk.stored(), self.teams
            yield Page(changes, dict(state))

    def _resume(self, state: dict[str, Any]) -> Walk | None:
        stored = state.get("walk")
        if not stored or state.get("teams") != self.teams:
            return None
        return Walk(**stored, started_here=False)

    def _begin(self, state: dict[str, Any]) -> Walk:
        if self._due_complete(state):
            return Walk(complete=True, filter=issue_filter(self.teams, None, None))
        since = _minus(state["high_water"], SKEW_S)
        mark = _minus(state.get("archive_mark") or state["high_water"], SKEW_S)
        return Walk(complete=False, filter=issue_filter(self.teams, since, mark))

    def _due_complete(self, state: dict[str, Any]) -> bool:
        if not state.get("high_water") or state.get("teams", self.teams) != self.teams:
            return True
        if int(state.get("runs_since_complete", 0)) + 1 >= self.full_every_runs:
            return True
        last = state.get("complete_at")
        return (
            last is None
            or (self.now() - datetime.fromisoformat(last)).total_seconds() >= self.full_every_s
        )

    def _fetch(self, walk: Walk) -> tuple[list[dict[str, Any]], bool, str | None]:
        """One page; halves `first` while Linear says the query is too complex (§6.4.3)."""
        first = self.first
        while True:
            variables = {"first": first, "after": walk.cursor, "filter": walk.filter}
            try:
                return page_of(self.post({"query": ISSUES_QUERY, "variables": variables}))
            except QueryTooComplexError:
                if first == 1:
                    raise
                first = max(first // 2, 1)
                self.first = first  # later pages of this run ask for the size that passed

    def _change(self, node: dict[str, Any], walk: Walk) -> Change:
        walk.seen.add(node["id"])
        walk.max_updated = max(walk.max_updated or "", node["updatedAt"])
        if not node.get("archivedAt"):
            return Change.upsert(node["id"], node)
        walk.max_archived = max(walk.max_archived or "", node["archivedAt"])
        # archived → tombstone `archived`; trashed (also archived) → `trashed` (DESIGN §7)
        return Change.delete(node["id"], "trashed" if node.get("trashed") else "archived")

    def _finished(self, state: dict[str, Any], walk: Walk) -> Checkpoint:
        done: Checkpoint = {
            "high_water": max(state.get("high_water") or "", walk.max_updated or "") or None,
            "archive_mark": max(state.get("archive_mark") or "", walk.max_archived or "") or None,
            "teams": self.teams,
            "runs_since_complete": 0
            if walk.complete
            else int(state.get("runs_since_complete", 0)) + 1,
            "complete_at": self.now().isoformat() if walk.complete else state.get("complete_at"),
        }
        return done

    def _sweeps(self, walk: Walk) -> list[Sweep]:
        """Absence = purged, only after a complete walk that ran start to end in this run."""
        if not (walk.complete and walk.started_here):
            return []
        if not self.teams:
            return [Sweep(scope="linear:all", seen=walk.seen, reason="purged")]
        return [
            Sweep(scope=f"linear:{key}", seen=walk.seen, where={"team_key": key}, reason="purged")
            for key in self.teams
        ]


def _minus(stamp: str, seconds: float) -> str:
    """An ISO instant `seconds` earlier, in Linear's millisecond `Z` form."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
