"""`pipeline serve` on a free port for a test (uvicorn on a thread), on the test's database and clock.

Deliveries are stored by the server over real HTTP; tests apply the inbox themselves
(`served.apply()`, the same `Applier` the server's thread runs), so nothing waits on a thread.
Signatures are made with the test's `FakeClock`, which the server checks them against.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from connectors.slack.sandbox.events import APP_ID, sign
from pipeline.ledger import Run
from pipeline.serve import ServeOptions, Service, bind
from pipeline.tables import inbox
from pipeline.testing import Db
from pipeline.webhooks.applier import Applier
from tests.connectors.slack.conftest import sandbox, slack_url  # noqa: F401  (fixtures)

SECRET = "whsec-test-0123456789"
BOT_USER = "U0SANDBOT"
_ids = itertools.count(1)


def envelope(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """An Events API `event_callback` from our app's installation (vendors.md §1.7)."""
    return {
        "type": "event_callback",
        "team_id": "T0SANDBOX",
        "api_app_id": APP_ID,
        "event_id": event_id or f"Ev{next(_ids):06d}",
        "event_time": 1767225600,
        "event": event,
        "authorizations": [{"user_id": BOT_USER, "is_bot": True}],
    }


def message(channel: str = "C1", ts: str = "1767225000.000100", **fields: Any) -> dict[str, Any]:
    """A `message` event for a new message (or reply, with `thread_ts`)."""
    return {
        "type": "message",
        "channel": channel,
        "ts": ts,
        "user": "U1",
        "text": "hello",
        **fields,
    }


def changed(channel: str, new: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "subtype": "message_changed", "channel": channel, "message": new}


def deleted(channel: str, ts: str) -> dict[str, Any]:
    return {"type": "message", "subtype": "message_deleted", "channel": channel, "deleted_ts": ts}


@dataclass
class Served:
    url: str
    db: Db
    applier: Applier

    def post(
        self,
        payload: Any,
        *,
        secret: str = SECRET,
        age_s: float = 0,
        tenant: str | None = None,
        headers: dict[str, str] | None = None,
        connector: str = "slack",
    ) -> httpx.Response:
        """POST a payload signed as Slack signs it, `age_s` seconds ago."""
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        timestamp = str(int(self.db.clock.now().timestamp() - age_s))
        signed = {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(secret, timestamp, body),
            "Content-Type": "application/json",
        }
        params = {"tenant": tenant} if tenant else None
        return httpx.post(
            f"{self.url}/webhooks/{connector}",
            content=body,
            params=params,
            headers={**signed, **(headers or {})},
        )

    def apply(self) -> list[Run]:
        return self.applier.apply_pending()

    def inbox(self) -> list[dict[str, Any]]:
        return self.db.rows(sa.select(inbox).order_by(inbox.c.id))


def start(service: Service) -> tuple[str, threading.Thread]:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    thread = threading.Thread(target=service.run, args=(sock,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not service.started:  # uvicorn's startup on its own thread: milliseconds
        assert time.monotonic() < deadline, "pipeline serve did not start"
        time.sleep(0.005)
    return f"http://127.0.0.1:{port}", thread


@pytest.fixture
def served(db: Db, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """`pipeline serve` (applier off) on a free port, on `db` and its clock."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)
    service = Service(db.engine, ServeOptions(apply=False), clock=db.clock)
    url, thread = start(service)
    yield Served(url, db, Applier(db.engine, db.clock))
    service.shutdown()
    thread.join(timeout=10)
