"""The REST routes the sandbox answers, each a small function of the request (`Ctx`).

`/repos/{owner}/{repo}/…` and `/repositories/{id}/…` (the form GitHub's own `Link` URLs use)
reach the same handlers. Handlers return a `Reply` (status, JSON, extra headers); the app adds
auth, limits, ETags and the journal around them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import render
from .listing import Query, comment_query, cut, issue_query, link_header, ordered
from .world import Comment, Issue, NotFound, Repo, World

Json = Any
DOCS = "https://docs.github.com/rest"


@dataclass
class Reply:
    status: int
    body: Json  # JSON-able, or already-encoded JSON bytes (cached renders of a list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    last_modified: float | None = None
    items: int = 0


@dataclass
class Ctx:
    world: World
    root: str  # scheme://host of the request
    path: str
    params: dict[str, Any]
    args: dict[str, str]
    with_last: bool = True  # include rel="last" in Link headers
    token_user: str = "sandbox-bot"

    @property
    def repo(self) -> Repo:
        if "repo_id" in self.args:
            found = [r for r in self.world.repos.values() if str(r.id) == self.args["repo_id"]]
            if not found:
                raise NotFound(self.args["repo_id"])
            return found[0]
        return self.world.repo(f"{self.args['owner']}/{self.args['repo']}")


def not_found() -> Reply:
    return Reply(404, render.error("Not Found", 404, DOCS))


def _paged(ctx: Ctx, items: list[Any], query: Query, draw: Callable[[Any], Json]) -> Reply:
    page, last = cut(items, query)
    base = f"{ctx.root}/repositories/{ctx.repo.id}{ctx.path[len(ctx.args['tail']) :]}"
    link = link_header(base, ctx.params, query.page, last, with_last=ctx.with_last)
    stamps = [x.updated_at for x in page]
    body = b"[" + b",".join(_encoded(ctx, x, draw) for x in page) + b"]"
    return Reply(
        200,
        body,
        [("Link", link)] if link else [],
        last_modified=max(stamps) if stamps else None,
        items=len(page),
    )


def _encoded(ctx: Ctx, item: Any, draw: Callable[[Any], Json]) -> bytes:
    """An item's JSON, cached until its repo next changes (a 10⁴-issue walk renders each once)."""
    repo = ctx.repo
    if repo.cache_key != (ctx.root, repo.version):
        repo.cache_key, repo.rendered = (ctx.root, repo.version), {}
    key = (type(item).__name__, item.id)
    if key not in repo.rendered:
        repo.rendered[key] = orjson.dumps(draw(item))
    return repo.rendered[key]


def _sorted(
    repo: Repo,
    kind: str,
    query: Query,
    items: Callable[[], list[Any]],
    key: Callable[[Any], tuple[Any, ...]],
) -> list[Any]:
    """The repo's issues or comments in the query's order, cached until the repo next changes."""
    cache_key = (kind, query.sort, query.direction)
    cached = repo.orders.get(cache_key)
    if cached is None or cached[0] != repo.version:
        cached = repo.orders[cache_key] = (repo.version, ordered(items(), query, key))
    return cached[1]


def list_issues(ctx: Ctx) -> Reply:
    query = issue_query(ctx.params)
    repo = ctx.repo
    since = query.since
    everything = _sorted(
        repo, "issues", query, lambda: list(repo.issues.values()), _issue_key(query.sort)
    )
    items = [
        i
        for i in everything
        if (query.state == "all" or i.state == query.state)
        and (since is None or i.updated_at >= since)  # inclusive (vendors.md §4.1)
    ]
    return _paged(ctx, items, query, lambda i: render.issue(ctx.root, ctx.world, repo, i))


def _issue_key(sort: str) -> Callable[[Issue], tuple[Any, ...]]:
    if sort == "updated":
        return lambda i: (i.updated_at, i.number)
    if sort == "comments":
        return lambda i: (i.comments, i.number)
    return lambda i: (i.created_at, i.number)


def _comment_key(sort: str) -> Callable[[Comment], tuple[Any, ...]]:
    if sort == "updated":
        return lambda c: (c.updated_at, c.id)
    return lambda c: (c.created_at, c.id)


def _comments(
    ctx: Ctx, comments: list[Comment], query: Query | None = None, *, presorted: bool = False
) -> Reply:
    query = query or comment_query(ctx.params)
    since = query.since
    listed = comments if presorted else ordered(comments, query, _comment_key(query.sort))
    items = [c for c in listed if since is None or c.updated_at >= since]
    repo = ctx.repo
    return _paged(ctx, items, query, lambda c: render.comment(ctx.root, ctx.world, repo, c))


def list_comments(ctx: Ctx) -> Reply:
    repo = ctx.repo
    query = comment_query(ctx.params)
    everything = _sorted(
        repo, "comments", query, lambda: list(repo.comments.values()), _comment_key(query.sort)
    )
    return _comments(ctx, everything, query, presorted=True)


def _gone_or_moved(ctx: Ctx, repo: Repo, number: int, suffix: str = "") -> Reply | None:
    """410 for a deleted issue, 301 + Location for a transferred one (vendors.md §4.1)."""
    if number in repo.deleted:
        return Reply(
            410, render.error("This issue was deleted", 410, f"{DOCS}/issues/issues#get-an-issue")
        )
    if number in repo.transferred:
        full_name, new_number = repo.transferred[number]
        url = f"{ctx.root}/repos/{full_name}/issues/{new_number}{suffix}"
        body = {"message": "Moved Permanently", "url": url, "documentation_url": DOCS}
        return Reply(301, body, [("Location", url)])
    return None


def get_issue(ctx: Ctx) -> Reply:
    repo, number = ctx.repo, int(ctx.args["number"])
    moved = _gone_or_moved(ctx, repo, number)
    if moved:
        return moved
    issue = repo.issue(number)
    body = render.issue(ctx.root, ctx.world, repo, issue, single=True)
    return Reply(200, body, last_modified=issue.updated_at, items=1)


def issue_comments(ctx: Ctx) -> Reply:
    repo, number = ctx.repo, int(ctx.args["number"])
    moved = _gone_or_moved(ctx, repo, number, "/comments")
    if moved:
        return moved
    issue = repo.issue(number)
    return _comments(ctx, [c for c in repo.comments.values() if c.issue_id == issue.id])


def get_comment(ctx: Ctx) -> Reply:
    repo = ctx.repo
    comment = repo.comment(int(ctx.args["comment_id"]))
    body = render.comment(ctx.root, ctx.world, repo, comment)
    return Reply(200, body, last_modified=comment.updated_at, items=1)


def get_repo(ctx: Ctx) -> Reply:
    return Reply(200, render.repo(ctx.root, ctx.world, ctx.repo))


def get_user(ctx: Ctx) -> Reply:
    return Reply(200, render.user(ctx.root, ctx.world.users[ctx.token_user]))


REPO = r"(?:/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)|/repositories/(?P<repo_id>\d+))"
ROUTES: list[tuple[str, re.Pattern[str], Callable[[Ctx], Reply]]] = [
    (name, re.compile(f"^(?P<tail>{REPO}){pattern}$"), handler)
    for name, pattern, handler in (
        ("list_issues", "/issues", list_issues),
        ("list_comments", "/issues/comments", list_comments),
        ("get_comment", r"/issues/comments/(?P<comment_id>\d+)", get_comment),
        ("get_issue", r"/issues/(?P<number>\d+)", get_issue),
        ("issue_comments", r"/issues/(?P<number>\d+)/comments", issue_comments),
        ("get_repo", "", get_repo),
    )
]
# /rate_limit is answered by the app, which knows the limits
PLAIN: dict[str, tuple[str, Callable[[Ctx], Reply] | None]] = {
    "/user": ("user", get_user),
    "/rate_limit": ("rate_limit", None),
}


def match(path: str) -> tuple[str, Callable[[Ctx], Reply] | None, dict[str, str]]:
    """(route name, handler, path arguments); ("unknown", None, {}) when nothing matches."""
    if path in PLAIN:
        name, handler = PLAIN[path]
        return name, handler, {}
    for name, pattern, handler in ROUTES:
        found = pattern.match(path)
        if found:
            return name, handler, {k: v for k, v in found.groupdict().items() if v is not None}
    return "unknown", None, {}
