"""Webhook deliveries: every mutation POSTs GitHub's `issues` / `issue_comment` payload (§8).

Headers as GitHub sends them: `X-GitHub-Event`, `X-GitHub-Delivery` (a GUID),
`X-Hub-Signature-256: sha256=hex(HMAC-SHA256(secret, body))`. The secret comes from
`GITHUB_WEBHOOK_SECRET` unless given. Deliveries run on one background thread in order (or
inline with `inline=True`, for tests); each outcome is kept in `deliveries`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import queue
import threading
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from . import render
from .world import Change, World

if TYPE_CHECKING:
    from .server import Sandbox

DEFAULT_SECRET = "sandbox-webhook-secret"


def payload(world: World, root: str, change: Change) -> dict[str, Any]:
    """The JSON body GitHub sends for `change` (action, issue, comment?, repository, sender)."""
    issue = change.issue
    if change.action == "transferred":  # the issue as it was, plus where it went
        issue = replace(issue, number=change.extra["old_number"])
    body: dict[str, Any] = {
        "action": change.action,
        "issue": render.issue(root, world, change.repo, issue),
    }
    if change.comment is not None:
        body["comment"] = render.comment(root, world, change.repo, change.comment)
    if "changes" in change.extra:
        body["changes"] = change.extra["changes"]
    if "label" in change.extra:
        body["label"] = change.extra["label"]
    if "assignee" in change.extra:
        body["assignee"] = render.user(root, world.users[change.extra["assignee"]])
    if change.action == "transferred":
        target = change.extra["new_repo"]
        body["changes"] = {
            "new_issue": render.issue(root, world, target, change.issue),
            "new_repository": render.repo(root, world, target),
        }
    body["repository"] = render.repo(root, world, change.repo)
    body["sender"] = render.user(root, world.users[world.viewer])
    return body


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Turns world changes into signed POSTs to `url`."""

    def __init__(
        self,
        world: World,
        url: str,
        *,
        secret: str | None = None,
        root: str = "",
        client: httpx.Client | None = None,
        inline: bool = False,
    ) -> None:
        self.world, self.url, self.root, self.inline = world, url, root, inline
        self.secret = secret or os.environ.get("GITHUB_WEBHOOK_SECRET") or DEFAULT_SECRET
        self.client = client or httpx.Client(timeout=10)
        self.deliveries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._queue: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if not inline:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def __call__(self, change: Change) -> None:
        body = orjson.dumps(payload(self.world, self.root, change))
        delivery = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.url}#{next(self._ids)}"))
        if self.inline:
            self._deliver(change.event, delivery, body)
        else:
            self._queue.put((change.event, delivery, body))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._deliver(*item)
            self._queue.task_done()

    def _deliver(self, event: str, delivery: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature(self.secret, body),
        }
        try:
            status: int | str = self.client.post(
                self.url, content=body, headers=headers
            ).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        self.deliveries.append({"delivery": delivery, "event": event, "status": status})

    def flush(self) -> None:
        """Wait until every queued delivery was attempted."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        self.client.close()


def attach(sandbox: Sandbox, url: str, **options: Any) -> WebhookSender:
    """Deliver every later change of `sandbox` to `url` (`serve(webhook_url=…)`)."""
    options.setdefault("root", sandbox.base_url)
    sender = WebhookSender(sandbox.world, url, **options)
    sandbox.world.listeners.append(sender)
    return sender
