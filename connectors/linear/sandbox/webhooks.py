"""Linear-style webhooks from the sandbox (vendors.md §4.2, DESIGN §8): every change the control
plane makes to an issue is POSTed to `url` as `{action, type: "Issue", data, updatedFrom?,
createdAt, webhookTimestamp, webhookId, organizationId}` with `Linear-Delivery`, `Linear-Event`
and `Linear-Signature: hex(HMAC-SHA256(secret, body))`; the secret is `LINEAR_WEBHOOK_SECRET` unless
given. `webhookTimestamp` is the send time by `now_ms` (default the store's clock; a served sandbox
passes the wall clock, which `pipeline serve` checks it against). Deliveries go out from a background
thread in order (a failed delivery is recorded, not retried); `flush()` waits for the queue.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from .resolvers import issue_record
from .store import Issue, Store, iso

DEFAULT_SECRET = "lin_wh_sandbox_secret"
Delivery = dict[str, Any]


class WebhookSender:
    """Queues one delivery per issue change and POSTs them in order to `url`."""

    def __init__(
        self,
        store: Store,
        url: str,
        secret: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.url = url
        self.secret = secret or os.environ.get("LINEAR_WEBHOOK_SECRET") or DEFAULT_SECRET
        self.now_ms = now_ms or store.now_ms
        self.sent: list[Delivery] = []  # {"id", "action", "status" | "error"}
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._http = httpx.Client(transport=transport, timeout=10.0)
        self._thread = threading.Thread(target=self._deliver_all, daemon=True)
        self._thread.start()
        store.on_change = self.enqueue

    def enqueue(self, action: str, issue: Issue, before: dict[str, Any]) -> None:
        """Called by the store on every change, under its lock: render now, send later."""
        now_ms = self.now_ms()
        payload: dict[str, Any] = {
            "action": action,
            "type": "Issue",
            "data": issue_record(self.store, issue),
            "url": f"https://linear.app/{self.store.org['urlKey']}/issue/{self.store.identifier(issue)}",
            "createdAt": iso(self.store.now_ms()),
            "organizationId": self.store.org["id"],
            "webhookTimestamp": now_ms,
            "webhookId": "sandbox-webhook",
        }
        if action == "update":
            payload["updatedFrom"] = before
        delivery_id = str(uuid.UUID(int=self.store.rng.getrandbits(128), version=4))
        self._queue.put((delivery_id, json.dumps(payload, separators=(",", ":")).encode()))

    def sign(self, body: bytes) -> str:
        return hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._http.close()

    def _deliver_all(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                self._queue.task_done()

    def _deliver(self, delivery_id: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Linear-Delivery": delivery_id,
            "Linear-Event": "Issue",
            "Linear-Signature": self.sign(body),
        }
        record: Delivery = {"id": delivery_id, "action": json.loads(body)["action"]}
        try:
            record["status"] = self._http.post(self.url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            record["error"] = type(exc).__name__
        self.sent.append(record)
