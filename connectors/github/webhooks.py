"""GitHub webhook deliveries (DESIGN §8, vendors.md §4.1) as changes to `github-issues` and
`github-comments`.

Signature: `X-Hub-Signature-256: sha256=hex(HMAC-SHA256(secret, body))`; GitHub signs no
timestamp, so a replay is caught by the delivery id (`X-GitHub-Delivery`), unique in the inbox.
`ping` (sent when a hook is created) is answered as a handshake. The inbox keeps only the body,
so the event is told by its payload, not by `X-GitHub-Event`: `issue_comment` carries `comment`
and `issue`; `issues` carries `issue` alone (`pull_request_review_comment` and `commit_comment`
carry a `comment` but no `issue`, and are ignored like every other event). A pull request's own
changes come as `pull_request` events, not handled here: the poll sees them.

Records are shaped by the poll's own `issue_record` / `comment_record`, so a change seen by a
webhook and by a poll is one event. `deleted` is a tombstone `webhook`; `transferred` keeps the
poll's reason `transferred` (the issue lives on in another repo). A record written through our
own GitHub App (`performed_via_github_app.id` in `GITHUB_APP_ID`) is our own write: skipped.

Deliveries may arrive late or out of order, so an upsert never restores a tombstone
(`restores=False`): none of GitHub's can be undone under the same id. A deleted issue or comment
never comes back (410 Gone, vendors.md §4.1); a transferred issue lives on in its new repo as a new
issue with a new id, announced there by `opened` (github.com/GoogleCloudPlatform/
repo-automation-playground/issues/85, octokit/webhooks.js#590; the sandbox keeps the id, and the
new repo's poll restores it); a closed issue is no tombstone, so a reopen is a plain edit. The poll still restores a record it lists (an `absent` one regained, say). Events of a
repository the subscription does not sync (`repos`) are dropped by `in_scope`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from connectors.github.models import comment_record, issue_record
from pipeline import Change, PayloadError, WebhookChanges, WebhookRequest, check_hmac

APP_ID_ENV = "GITHUB_APP_ID"  # our App's numeric id(s), comma-separated: loop prevention
DELETE_REASONS = {"deleted": "webhook", "transferred": "transferred"}
CREATED = ("opened", "created")


class GitHubWebhooks:
    """`POST /webhooks/github`: `issues` and `issue_comment`, every action."""

    connector = "github"
    secret_env = "GITHUB_WEBHOOK_SECRET"

    def verify(self, request: WebhookRequest, secret: str, now: float) -> None:
        given = request.headers.get("x-hub-signature-256")
        check_hmac(secret, request.body, given, prefix="sha256=")

    def handshake(self, payload: Any) -> Mapping[str, Any] | None:
        """`ping`: GitHub checks the hook answers 2xx; nothing is stored."""
        if isinstance(payload, dict) and "zen" in payload and "hook_id" in payload:
            return {"ok": True, "ping": True}
        return None

    def delivery_id(self, request: WebhookRequest, payload: Any) -> str:
        delivery = request.headers.get("x-github-delivery")
        if not delivery:
            raise PayloadError("X-GitHub-Delivery is missing")
        return delivery

    def changes(self, payload: Any) -> WebhookChanges | None:
        if not isinstance(payload, dict):
            raise PayloadError("expected a JSON object")
        if not isinstance(payload.get("issue"), dict):
            return None  # not `issues` / `issue_comment`: polling covers the rest
        action, repo = required(payload, "action"), repo_name(payload)
        if isinstance(payload.get("comment"), dict):
            change = comment_change(payload["comment"], action, repo, payload.get("sender"))
            return WebhookChanges("comments", [change])
        change = issue_change(payload["issue"], action, repo, payload.get("sender"))
        return WebhookChanges("issues", [change])

    def in_scope(self, change: Change, config: Mapping[str, Any]) -> bool:
        """Whether the subscription syncs the change's repo: its `repos`, else every one.

        A tombstone names no repo (the numeric id is all it carries), so it is kept: one for a
        record we do not hold writes nothing.
        """
        repos = config.get("repos")
        if not repos or change.record is None:
            return True
        if isinstance(repos, str):  # `--set repos=o/a,o/b` before validation
            repos = repos.split(",")
        wanted = {str(r).strip().casefold() for r in repos}  # GitHub names are case-insensitive
        return str(change.record.get("repo", "")).casefold() in wanted


def issue_change(issue: Mapping[str, Any], action: str, repo: str, sender: Any) -> Change:
    """`issues` (opened, edited, closed, labeled, …, deleted, transferred) → one change."""
    key = record_id(issue)
    if action in DELETE_REASONS:
        return Change.delete(key, DELETE_REASONS[action])
    own = is_own(issue, action, sender)
    return Change(key, issue_record(issue, repo), is_own_write=own, restores=False)


def comment_change(comment: Mapping[str, Any], action: str, repo: str, sender: Any) -> Change:
    """`issue_comment` (created, edited, deleted) → one change."""
    key = record_id(comment)
    if action == "deleted":
        return Change.delete(key, "webhook")
    own = is_own(comment, action, sender)
    return Change(key, comment_record(comment, repo), is_own_write=own, restores=False)


def is_own(record: Mapping[str, Any], action: str, sender: Any) -> bool:
    """Written by our own GitHub App: `performed_via_github_app.id` is one of ours, and this
    action is the record's creation or was sent by the App's bot (`<slug>[bot]`).

    `performed_via_github_app` names the App that *created* the record and stays on it, so a
    person's later edit of an issue our App opened is not our write.
    """
    app = record.get("performed_via_github_app")
    if not isinstance(app, Mapping) or app.get("id") is None:
        return False
    ours = {part.strip() for part in os.environ.get(APP_ID_ENV, "").split(",")} - {""}
    if str(app["id"]) not in ours:
        return False
    login = sender.get("login") if isinstance(sender, Mapping) else None
    return action in CREATED or login == f"{app.get('slug')}[bot]"


def record_id(record: Mapping[str, Any]) -> str:
    value = record.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError("the record has no numeric id")
    return str(value)


def repo_name(payload: Mapping[str, Any]) -> str:
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, Mapping) else None
    if not isinstance(name, str) or "/" not in name:
        raise PayloadError("the payload has no repository.full_name")
    return name


def required(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"the payload has no {name}")
    return value
