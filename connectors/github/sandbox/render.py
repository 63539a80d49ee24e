"""GitHub's JSON shapes for users, repos, labels, issues (PRs carry `pull_request`) and comments.

URLs point at the sandbox's own root (the request's scheme and host), so a client that follows
`url` or `comments_url` (PyGithub does) stays on the sandbox. Ids are integers; node ids look like
GitHub's (`I_kwDO…`, `PR_kwDO…`, `IC_kwDO…`).
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from .clock import iso
from .world import Comment, Issue, Label, Repo, User, World

Json = dict[str, Any]
NO_REACTIONS = {
    k: 0
    for k in ("total_count", "+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")
}


@lru_cache(maxsize=65_536)
def node_id(prefix: str, number: int) -> str:
    """A GitHub-looking global node id: `<prefix>_kwDO` + url-safe base64 of the number."""
    packed = number.to_bytes(8, "big").lstrip(b"\0") or b"\0"
    return f"{prefix}_kwDO{base64.urlsafe_b64encode(packed).decode().rstrip('=')}"


def user(root: str, u: User) -> Json:
    return dict(_user(root, u.login, u.id, u.type))


@lru_cache(maxsize=4096)
def _user(root: str, login: str, user_id: int, kind: str) -> Json:
    u = User(login, user_id, kind)
    api = f"{root}/users/{quote(u.login)}"
    return {
        "login": u.login,
        "id": u.id,
        "node_id": node_id("U" if u.type == "User" else "O", u.id),
        "avatar_url": f"{root}/avatars/u/{u.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{root}/{quote(u.login)}",
        "followers_url": f"{api}/followers",
        "repos_url": f"{api}/repos",
        "type": u.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def app(root: str, slug: str | None) -> Json | None:
    """`performed_via_github_app`: null unless an app wrote the record (DESIGN §8)."""
    if slug is None:
        return None
    return {
        "id": len(slug) * 1000 + 7,
        "slug": slug,
        "node_id": node_id("A", len(slug)),
        "name": slug,
        "html_url": f"{root}/apps/{slug}",
        "owner": None,
        "events": ["issues", "issue_comment"],
    }


def repo(root: str, world: World, r: Repo) -> Json:
    api = f"{root}/repos/{r.full_name}"
    return {
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": r.name,
        "full_name": r.full_name,
        "private": False,
        "owner": user(root, world.users[r.owner]),
        "html_url": f"{root}/{r.full_name}",
        "url": api,
        "issues_url": f"{api}/issues{{/number}}",
        "labels_url": f"{api}/labels{{/name}}",
        "created_at": iso(r.created_at),
        "updated_at": iso(max([r.created_at, *(i.updated_at for i in r.issues.values())])),
        "has_issues": True,
        "default_branch": "main",
        "open_issues_count": sum(i.state == "open" for i in r.issues.values()),
    }


def label(root: str, r: Repo, lb: Label) -> Json:
    return {
        "id": lb.id,
        "node_id": node_id("LA", lb.id),
        "url": f"{root}/repos/{r.full_name}/labels/{quote(lb.name)}",
        "name": lb.name,
        "color": lb.color,
        "default": lb.default,
        "description": lb.description,
    }


def issue(root: str, world: World, r: Repo, i: Issue, *, single: bool = False) -> Json:
    """One issue as listed; `single=True` adds what only a direct GET shows (`closed_by`)."""
    api = f"{root}/repos/{r.full_name}/issues/{i.number}"
    kind = "pull" if i.is_pull_request else "issues"
    users = world.users
    body: Json = {
        "url": api,
        "repository_url": f"{root}/repos/{r.full_name}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{root}/{r.full_name}/{kind}/{i.number}",
        "id": i.id,
        "node_id": node_id("PR" if i.is_pull_request else "I", i.id),
        "number": i.number,
        "title": i.title,
        "user": user(root, users[i.user]),
        "labels": [label(root, r, r.labels[name]) for name in i.labels],
        "state": i.state,
        "locked": i.locked,
        "assignee": user(root, users[i.assignees[0]]) if i.assignees else None,
        "assignees": [user(root, users[a]) for a in i.assignees],
        "milestone": None,
        "comments": i.comments,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "closed_at": iso(i.closed_at),
        "author_association": _association(r, i.user),
        "type": None,
        "active_lock_reason": None,
        "body": i.body,
        "reactions": {"url": f"{api}/reactions", **NO_REACTIONS},
        "timeline_url": f"{api}/timeline",
        "performed_via_github_app": app(root, i.via_app),
        "state_reason": i.state_reason,
    }
    if i.is_pull_request:
        body["draft"] = i.draft
        body["pull_request"] = _pull_request(root, r, i)
    if single:
        body["closed_by"] = user(root, users[i.closed_by]) if i.closed_by else None
    return body


def comment(root: str, world: World, r: Repo, c: Comment) -> Json:
    number = world.issue_of(r, c).number
    api = f"{root}/repos/{r.full_name}/issues/comments/{c.id}"
    return {
        "url": api,
        "html_url": f"{root}/{r.full_name}/issues/{number}#issuecomment-{c.id}",
        "issue_url": f"{root}/repos/{r.full_name}/issues/{number}",
        "id": c.id,
        "node_id": node_id("IC", c.id),
        "user": user(root, world.users[c.user]),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "author_association": _association(r, c.user),
        "body": c.body,
        "reactions": {"url": f"{api}/reactions", **NO_REACTIONS},
        "performed_via_github_app": app(root, c.via_app),
    }


def _pull_request(root: str, r: Repo, i: Issue) -> Json:
    html = f"{root}/{r.full_name}/pull/{i.number}"
    return {
        "url": f"{root}/repos/{r.full_name}/pulls/{i.number}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "merged_at": iso(i.merged_at),
    }


def _association(r: Repo, login: str) -> str:
    return "OWNER" if login == r.owner else "CONTRIBUTOR"


def error(message: str, status: int, doc: str = "https://docs.github.com/rest") -> Json:
    """GitHub's error body: `message`, `documentation_url`, and `status` as a string."""
    return {"message": message, "documentation_url": doc, "status": str(status)}
