"""Canonical GitHub records: an issue (or pull request) and an issue comment (vendors.md §4.1).

A listed record is flattened to what a team queries and diffs: logins instead of user objects,
label names instead of label objects, `is_pull_request` instead of the `pull_request` object.
`updated_at` moves with every change and `comments` with every new comment, so both are volatile:
an edit's event names the fields that changed, not its bookkeeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class Issue(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    repo: str
    number: int
    title: str
    body: str | None = None
    state: str
    state_reason: str | None = None
    author: str | None = None
    labels: list[str] = []
    assignees: list[str] = []
    is_pull_request: bool = False
    draft: bool | None = None
    merged_at: datetime | None = None
    locked: bool = False
    comments: int = 0
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    html_url: str | None = None
    via_app: str | None = None


class Comment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    repo: str
    issue_number: int
    author: str | None = None
    body: str | None = None
    created_at: datetime
    updated_at: datetime
    html_url: str | None = None
    via_app: str | None = None


def _login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, Mapping) else None


def _app(record: Mapping[str, Any]) -> str | None:
    app = record.get("performed_via_github_app")
    return app.get("slug") if isinstance(app, Mapping) else None


def issue_record(record: Mapping[str, Any], repo: str) -> dict[str, Any]:
    """A listed issue or PR, flattened (a PR carries a `pull_request` object; vendors.md §4.1)."""
    pull = record.get("pull_request")
    return {
        "id": record["id"],
        "repo": repo,
        "number": record["number"],
        "title": record["title"],
        "body": record.get("body"),
        "state": record["state"],
        "state_reason": record.get("state_reason"),
        "author": _login(record.get("user")),
        "labels": sorted(
            lb["name"] for lb in record.get("labels") or () if isinstance(lb, Mapping)
        ),
        "assignees": sorted(filter(None, map(_login, record.get("assignees") or ()))),
        "is_pull_request": isinstance(pull, Mapping),
        "draft": record.get("draft"),
        "merged_at": pull.get("merged_at") if isinstance(pull, Mapping) else None,
        "locked": bool(record.get("locked")),
        "comments": record.get("comments") or 0,
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "closed_at": record.get("closed_at"),
        "html_url": record.get("html_url"),
        "via_app": _app(record),
    }


def comment_record(record: Mapping[str, Any], repo: str) -> dict[str, Any]:
    """A listed issue comment, flattened; its issue number is the tail of `issue_url`."""
    return {
        "id": record["id"],
        "repo": repo,
        "issue_number": int(str(record["issue_url"]).rstrip("/").rsplit("/", 1)[1]),
        "author": _login(record.get("user")),
        "body": record.get("body"),
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "html_url": record.get("html_url"),
        "via_app": _app(record),
    }
