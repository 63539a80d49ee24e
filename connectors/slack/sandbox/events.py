"""The sandbox's Events API sender (vendors.md §1.7, §6.2.12): workspace changes → signed deliveries.

Every message posted, edited or deleted in the workspace (through the control API, the Web API or
churn) becomes an `event_callback` envelope POSTed to a URL, signed as Slack signs them
(`X-Slack-Signature: v0=…` over `v0:{timestamp}:{body}`). A delivery not answered 2xx is retried
up to `retries` times with `X-Slack-Retry-Num`. Deliveries go out in order from one thread, so a
control call never waits for the receiver.

    sender = EventSender(sandbox.workspace, "http://127.0.0.1:8000/webhooks/slack", secret)
    sandbox.workspace.post(channel, "hello")     # → a `message` delivery
    sender.flush()
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from .workspace import Message, Workspace

APP_ID = "A0SANDBOX"  # the app chat.postMessage writes as (methods.py)
log = logging.getLogger("sandbox.events")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature (DESIGN §8)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def message_event(
    kind: str, channel: str, before: Message | None, after: Message | None
) -> dict[str, Any]:
    """The `event` of one workspace change, shaped as the Events API sends it."""
    if kind == "posted" and after is not None:
        return {**after, "channel": channel, "event_ts": after["ts"], "channel_type": "channel"}
    if kind in ("reacted", "unreacted") and before is not None and after is not None:
        return {
            "type": "reaction_added" if kind == "reacted" else "reaction_removed",
            "user": before["user"],
            "reaction": before["reaction"],
            "item": {"type": "message", "channel": channel, "ts": after["ts"]},
        }
    event: dict[str, Any] = {"type": "message", "channel": channel, "hidden": True}
    if kind == "deleted" and before is not None:
        event.update(subtype="message_deleted", deleted_ts=before["ts"], previous_message=before)
        return event
    event.update(subtype="message_changed", message=after)
    if before is not None:
        event["previous_message"] = before
    return event


class EventSender:
    """Observes a workspace and delivers its changes to `url`, signed with `secret`."""

    def __init__(
        self,
        workspace: Workspace,
        url: str,
        secret: str,
        *,
        now: Callable[[], float] = time.time,
        retries: int = 3,
        retry_delay_s: float = 1.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.workspace, self.url, self.secret, self.now = workspace, url, secret, now
        self.retries, self.retry_delay_s = retries, retry_delay_s
        self.client = client or httpx.Client(timeout=10)
        self.sent = self.failed = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._deliver_all, name="slack-events", daemon=True)
        self._thread.start()
        workspace.observers.append(self.observe)

    def observe(
        self, kind: str, channel: str, before: Message | None, after: Message | None
    ) -> None:
        self._queue.put(
            json.dumps(self.envelope(message_event(kind, channel, before, after))).encode()
        )

    def envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        event.setdefault("event_ts", f"{now:.6f}")
        ws = self.workspace
        return {
            "token": "sandbox-verification-token",
            "team_id": ws.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:16].upper()}",
            "event_time": int(now),
            "authorizations": [{"team_id": ws.team_id, "user_id": ws.bot_user_id, "is_bot": True}],
        }

    def flush(self) -> None:
        """Wait until every change observed so far was delivered (or given up on)."""
        self._queue.join()

    def close(self) -> None:
        self.workspace.observers.remove(self.observe)
        self._queue.put(None)
        self._thread.join()
        self.client.close()

    def _deliver_all(self) -> None:
        while (body := self._queue.get()) is not None:
            try:
                self.deliver(body)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def deliver(self, body: bytes) -> bool:
        """POST one delivery, retried like Slack does (vendors.md §1.7); True once answered 2xx."""
        for attempt in range(self.retries + 1):
            timestamp = str(int(self.now()))
            headers = {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": sign(self.secret, timestamp, body),
            }
            if attempt:
                headers.update(
                    {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"}
                )
            try:
                if self.client.post(self.url, content=body, headers=headers).is_success:
                    self.sent += 1
                    return True
            except httpx.HTTPError as exc:
                log.warning("event delivery to %s failed: %s", self.url, type(exc).__name__)
            if attempt < self.retries:
                time.sleep(self.retry_delay_s * (attempt + 1))
        self.failed += 1
        return False
