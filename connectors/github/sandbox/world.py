"""The sandbox's GitHub: users, repos, issues (pull requests are issues), labels and comments.

Every mutation is one method here; the control plane, the Python API and the seeder all go
through them, so `updated_at` and the ground truth stay consistent. Deleted issues vanish from
listings and answer 410; transferred ones vanish and answer 301 (vendors.md §4.1, §6.3.2).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .clock import SandboxClock

STATE_REASONS = ("completed", "not_planned")


class NotFound(LookupError):
    """No such repo, issue or comment: the API answers 404, the control plane 400."""


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # "Bot" for apps such as dependabot[bot]


@dataclass
class Label:
    id: int
    name: str
    color: str
    description: str | None = None
    default: bool = False


@dataclass
class Issue:
    """An issue or a pull request (`is_pull_request`): GitHub lists both from /issues."""

    id: int
    number: int
    title: str
    body: str | None
    user: str
    created_at: float
    updated_at: float
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    is_pull_request: bool = False
    draft: bool = False
    merged_at: float | None = None
    locked: bool = False
    via_app: str | None = None  # performed_via_github_app (DESIGN §8 loop prevention)
    comments: int = 0


@dataclass
class Comment:
    id: int
    issue_id: int
    user: str
    body: str
    created_at: float
    updated_at: float
    via_app: str | None = None


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    created_at: float
    issues: dict[int, Issue] = field(default_factory=dict)  # by number
    comments: dict[int, Comment] = field(default_factory=dict)  # by id
    labels: dict[str, Label] = field(default_factory=dict)  # by name
    deleted: dict[int, float] = field(default_factory=dict)  # number → deleted at
    transferred: dict[int, tuple[str, int]] = field(default_factory=dict)  # → (full name, number)
    numbers: dict[int, int] = field(default_factory=dict)  # issue id → number
    next_number: int = 1
    version: int = 0  # bumped by every mutation: listing caches key on it
    orders: dict[tuple[str, str, str], tuple[int, list[Any]]] = field(default_factory=dict)
    cache_key: tuple[str, int] = ("", -1)
    rendered: dict[tuple[str, int], bytes] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def issue(self, number: int) -> Issue:
        try:
            return self.issues[number]
        except KeyError:
            raise NotFound(f"no issue #{number} in {self.full_name}") from None

    def issue_by_id(self, issue_id: int) -> Issue | None:
        number = self.numbers.get(issue_id)
        return None if number is None else self.issues.get(number)

    def put(self, issue: Issue) -> None:
        self.issues[issue.number] = issue
        self.numbers[issue.id] = issue.number
        self.version += 1

    def take(self, number: int) -> Issue:
        issue = self.issues.pop(self.issue(number).number)
        del self.numbers[issue.id]
        self.version += 1
        return issue

    def comment(self, comment_id: int) -> Comment:
        try:
            return self.comments[comment_id]
        except KeyError:
            raise NotFound(f"no comment {comment_id} in {self.full_name}") from None


@dataclass(frozen=True)
class Change:
    """What a webhook would say: `issues` / `issue_comment` with GitHub's action names (§8)."""

    event: str  # "issues" | "issue_comment"
    action: str  # opened, edited, labeled, closed, reopened, deleted, transferred, created, …
    repo: Repo
    issue: Issue
    comment: Comment | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # "changes", "label", "assignee"


class World:
    """All of the sandbox's GitHub state, on one clock. Callers hold the app's lock."""

    def __init__(self, clock: SandboxClock, viewer: str = "sandbox-bot") -> None:
        self.clock = clock
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.viewer = viewer
        self.deleted_comments: dict[int, float] = {}  # ground truth: comment id → deleted at
        self.listeners: list[Callable[[Change], None]] = []  # e.g. webhook delivery
        self._quiet = False
        self._ids = itertools.count(1_000_001)
        self.add_user(viewer)

    @property
    def now(self) -> float:
        return self.clock.now()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Mutate without telling listeners (seeding: no webhook storm for history)."""
        self._quiet, was = True, self._quiet
        try:
            yield
        finally:
            self._quiet = was

    def _emit(self, event: str, action: str, repo: Repo, issue: Issue, **extra: Any) -> None:
        if self.listeners and not self._quiet:
            comment = extra.pop("comment", None)
            for listener in self.listeners:
                listener(Change(event, action, repo, issue, comment, extra))

    def next_id(self) -> int:
        return next(self._ids)

    def add_user(self, login: str, kind: str = "User") -> User:
        return self.users.setdefault(login, User(login, self.next_id(), kind))

    def add_repo(self, full_name: str, created_at: float | None = None) -> Repo:
        owner, _, name = full_name.partition("/")
        if not owner or not name:
            raise ValueError(f"a repo is 'owner/name', not {full_name!r}")
        if full_name not in self.repos:
            self.add_user(owner, "Organization")
            at = self.now if created_at is None else created_at
            self.repos[full_name] = Repo(self.next_id(), owner, name, at)
        return self.repos[full_name]

    def repo(self, full_name: str) -> Repo:
        try:
            return self.repos[full_name]
        except KeyError:
            raise NotFound(f"no repo {full_name!r}") from None

    def add_label(self, repo: Repo, name: str, color: str = "ededed", **extra: Any) -> Label:
        return repo.labels.setdefault(name, Label(self.next_id(), name, color, **extra))

    # -- issues ------------------------------------------------------------------------------

    def create_issue(
        self,
        full_name: str,
        title: str,
        *,
        body: str | None = None,
        user: str | None = None,
        labels: list[str] | None = None,
        assignees: list[str] | None = None,
        pull_request: bool = False,
        via_app: str | None = None,
        at: float | None = None,
    ) -> Issue:
        """A new issue (or PR) numbered after every issue and PR in the repo so far."""
        repo = self.repo(full_name)
        when = self.now if at is None else at
        author = self.add_user(user or self.viewer).login
        for name in labels or ():
            self.add_label(repo, name)
        for login in assignees or ():
            self.add_user(login)
        issue = Issue(
            self.next_id(),
            repo.next_number,
            title,
            body,
            author,
            when,
            when,
            labels=list(labels or ()),
            assignees=list(assignees or ()),
            is_pull_request=pull_request,
            via_app=via_app,
        )
        repo.put(issue)
        repo.next_number += 1
        self._emit("issues", "opened", repo, issue)
        return issue

    def _touch(self, repo: Repo, issue: Issue) -> Issue:
        issue.updated_at = max(self.now, issue.created_at)
        repo.version += 1
        return issue

    def edit_issue(
        self, full_name: str, number: int, *, title: str | None = None, body: str | None = None
    ) -> Issue:
        repo = self.repo(full_name)
        issue = repo.issue(number)
        changes: dict[str, dict[str, str | None]] = {}
        if title is not None:
            changes["title"], issue.title = {"from": issue.title}, title
        if body is not None:
            changes["body"], issue.body = {"from": issue.body}, body
        self._touch(repo, issue)
        self._emit("issues", "edited", repo, issue, changes=changes)
        return issue

    def label(self, full_name: str, number: int, name: str, *, add: bool = True) -> Issue:
        """Add (or remove) one label; removing a label the issue lacks changes nothing."""
        repo = self.repo(full_name)
        issue = repo.issue(number)
        if add and name not in issue.labels:
            self.add_label(repo, name)
            issue.labels.append(name)
        elif not add and name in issue.labels:
            issue.labels.remove(name)
        else:
            return issue
        self._touch(repo, issue)
        label = (
            {"name": name, "id": repo.labels[name].id} if name in repo.labels else {"name": name}
        )
        self._emit("issues", "labeled" if add else "unlabeled", repo, issue, label=label)
        return issue

    def assign(self, full_name: str, number: int, login: str, *, add: bool = True) -> Issue:
        repo = self.repo(full_name)
        issue = repo.issue(number)
        self.add_user(login)
        if add == (login in issue.assignees):
            return issue
        issue.assignees.append(login) if add else issue.assignees.remove(login)
        self._touch(repo, issue)
        self._emit("issues", "assigned" if add else "unassigned", repo, issue, assignee=login)
        return issue

    def close(
        self, full_name: str, number: int, reason: str = "completed", by: str | None = None
    ) -> Issue:
        if reason not in STATE_REASONS:
            raise ValueError(f"reason must be one of {', '.join(STATE_REASONS)}, not {reason!r}")
        repo = self.repo(full_name)
        issue = repo.issue(number)
        issue.state, issue.state_reason = "closed", reason
        issue.closed_at, issue.closed_by = self.now, by or self.viewer
        self._touch(repo, issue)
        self._emit("issues", "closed", repo, issue)
        return issue

    def reopen(self, full_name: str, number: int) -> Issue:
        repo = self.repo(full_name)
        issue = repo.issue(number)
        issue.state, issue.state_reason = "open", "reopened"
        issue.closed_at = issue.closed_by = None
        self._touch(repo, issue)
        self._emit("issues", "reopened", repo, issue)
        return issue

    def merge(self, full_name: str, number: int) -> Issue:
        """Merge a pull request: it closes (completed) with `pull_request.merged_at` set."""
        issue = self.repo(full_name).issue(number)
        if not issue.is_pull_request:
            raise ValueError(f"#{number} is an issue, not a pull request")
        issue.merged_at = self.now
        return self.close(full_name, number)

    def delete_issue(self, full_name: str, number: int) -> Issue:
        """Hard delete: gone from listings (with its comments), 410 on a direct GET (§4.1)."""
        repo = self.repo(full_name)
        issue = repo.take(number)
        repo.deleted[number] = self.now
        for cid in [c.id for c in repo.comments.values() if c.issue_id == issue.id]:
            del repo.comments[cid]
            self.deleted_comments[cid] = self.now
        repo.version += 1
        self._emit("issues", "deleted", repo, issue)
        return issue

    def transfer_issue(self, full_name: str, number: int, to: str) -> Issue:
        """Move an issue (and its comments) to `to`: a new number there, 301 from the old one."""
        source, target = self.repo(full_name), self.add_repo(to)
        issue = source.take(number)
        issue.number = target.next_number
        target.next_number += 1
        target.put(issue)
        for cid in [c.id for c in source.comments.values() if c.issue_id == issue.id]:
            target.comments[cid] = source.comments.pop(cid)
        source.transferred[number] = (target.full_name, issue.number)
        self._touch(target, issue)
        self._emit("issues", "transferred", source, issue, old_number=number, new_repo=target)
        return issue

    # -- comments ----------------------------------------------------------------------------

    def add_comment(
        self,
        full_name: str,
        number: int,
        body: str,
        *,
        user: str | None = None,
        via_app: str | None = None,
        at: float | None = None,
    ) -> Comment:
        """A new comment; like GitHub, it bumps its issue's `updated_at` and `comments` count."""
        repo = self.repo(full_name)
        issue = repo.issue(number)
        when = self.now if at is None else at
        author = self.add_user(user or self.viewer).login
        comment = Comment(self.next_id(), issue.id, author, body, when, when, via_app)
        repo.comments[comment.id] = comment
        issue.comments += 1
        issue.updated_at = max(issue.updated_at, when)
        repo.version += 1
        self._emit("issue_comment", "created", repo, issue, comment=comment)
        return comment

    def edit_comment(self, full_name: str, comment_id: int, body: str) -> Comment:
        repo = self.repo(full_name)
        comment = repo.comment(comment_id)
        changes = {"body": {"from": comment.body}}
        comment.body, comment.updated_at = body, self.now
        repo.version += 1
        self._emit(
            "issue_comment",
            "edited",
            repo,
            self.issue_of(repo, comment),
            comment=comment,
            changes=changes,
        )
        return comment

    def delete_comment(self, full_name: str, comment_id: int) -> Comment:
        repo = self.repo(full_name)
        comment = repo.comments.pop(repo.comment(comment_id).id)
        issue = repo.issue_by_id(comment.issue_id)
        if issue is not None:
            issue.comments -= 1
        self.deleted_comments[comment_id] = self.now
        repo.version += 1
        if issue is not None:
            self._emit("issue_comment", "deleted", repo, issue, comment=comment)
        return comment

    def issue_of(self, repo: Repo, comment: Comment) -> Issue:
        issue = repo.issue_by_id(comment.issue_id)
        if issue is None:
            raise NotFound(f"comment {comment.id} has no issue in {repo.full_name}")
        return issue
