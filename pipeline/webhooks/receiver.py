"""Receiving one webhook request (DESIGN §8): verify, answer a handshake, map, store; in that order.

`Receiver.receive` is independent of the web framework: it takes the route's connector, the tenant,
the headers and the raw body, and returns the HTTP status and JSON body to send. A 2xx for a
delivery is returned only once its raw body is committed to the inbox. Refusals say what is wrong
in one line and never echo the body, a header value or a secret.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.engine import Engine

from pipeline.db import create_engine, is_postgres, write_transaction
from pipeline.http.clock import Clock, SystemClock
from pipeline.metrics import REGISTRY
from pipeline.webhooks import inbox
from pipeline.webhooks.handler import PayloadError, SignatureError, WebhookRequest
from pipeline.webhooks.registry import webhook_handler
from pipeline.webhooks.subscriptions import SecretLookup

log = logging.getLogger("pipeline.serve")

DELIVERIES = Counter(
    "pipeline_webhook_deliveries",
    "Webhook requests received, by outcome (stored, duplicate, ignored, handshake, refused_*).",
    ["connector", "outcome"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Mapping[str, Any]


RECEIPTS_APPLICATION = (
    "pipeline serve receipts"  # how the receipts' sessions show in pg_stat_activity
)


def store_engine(engine: Engine, size: int) -> Engine | None:
    """PostgreSQL: receipts get a pool of their own, `size` connections in autocommit and with no
    pre-ping. The one INSERT is its own transaction, so a receipt is one round trip instead of
    four (ping, BEGIN, INSERT, COMMIT). SQLite (None): the shared engine, `BEGIN IMMEDIATE`."""
    if not is_postgres(engine):
        return None
    url = engine.url.render_as_string(hide_password=False)
    return create_engine(
        url,
        pool_size=size,
        max_overflow=4,
        pool_pre_ping=False,
        isolation_level="AUTOCOMMIT",
        connect_args={"application_name": RECEIPTS_APPLICATION},
    )


class Receiver:
    """Turns webhook requests into inbox rows; `on_stored` wakes the applier."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        on_stored: Callable[[inbox.InboxKey], None] | None = None,
        receipts: int = 8,
    ) -> None:
        self.engine = engine
        self.store_engine = store_engine(engine, receipts)
        self.clock = clock or SystemClock()
        self.secrets = SecretLookup(engine)
        self.on_stored = on_stored
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def receive(
        self, connector: str, tenant: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        handler = webhook_handler(connector)
        if handler is None:
            return Reply(404, {"error": f"no webhooks for connector {connector!r}"})
        request = WebhookRequest({k.lower(): v for k, v in headers.items()}, body)
        secret = self.secrets.secret(tenant, connector, handler.secret_env)
        if secret is None:
            self._warn_no_secret(connector, tenant, handler.secret_env)
            return self._refuse(connector, 401, "signature cannot be checked: no secret set")
        try:
            handler.verify(request, secret, self.clock.now().timestamp())
        except SignatureError as exc:
            return self._refuse(connector, 401, f"bad signature: {exc}")
        try:
            return self._accept(handler, connector, tenant, request)
        except PayloadError as exc:
            return self._refuse(connector, 400, f"malformed payload: {exc}")

    def _accept(self, handler: Any, connector: str, tenant: str, request: WebhookRequest) -> Reply:
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise PayloadError("the body is not JSON") from None
        handshake = handler.handshake(payload)
        if handshake is not None:
            DELIVERIES.labels(connector=connector, outcome="handshake").inc()
            return Reply(200, handshake)
        mapped = handler.changes(payload)
        if mapped is None:  # an event type this connector does not sync: acknowledged, not kept
            DELIVERIES.labels(connector=connector, outcome="ignored").inc()
            return Reply(200, {"ok": True, "ignored": True})
        delivery_id = str(handler.delivery_id(request, payload))
        key = inbox.InboxKey(tenant, connector, mapped.stream)
        stored = self._store(key, delivery_id, request.body)
        if stored and self.on_stored is not None:
            self.on_stored(key)
        DELIVERIES.labels(connector=connector, outcome="stored" if stored else "duplicate").inc()
        return Reply(200, {"ok": True, "duplicate": not stored})

    def _store(self, key: inbox.InboxKey, delivery_id: str, body: bytes) -> bool:
        """Commit the delivery; a pooled connection the server dropped (a restart) fails the
        first try before anything is written, and the second goes through a new one."""
        try:
            return self._store_once(key, delivery_id, body)
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return self._store_once(key, delivery_id, body)

    def _store_once(self, key: inbox.InboxKey, delivery_id: str, body: bytes) -> bool:
        if self.store_engine is None:
            with write_transaction(self.engine) as conn:
                return inbox.store(conn, key, delivery_id, body, self.clock.now())
        with self.store_engine.connect() as conn:  # autocommit: the INSERT commits as it returns
            return inbox.store(conn, key, delivery_id, body, self.clock.now())

    def close(self) -> None:
        if self.store_engine is not None:
            self.store_engine.dispose()

    def _refuse(self, connector: str, status: int, message: str) -> Reply:
        DELIVERIES.labels(connector=connector, outcome=f"refused_{status}").inc()
        return Reply(status, {"error": message})

    def _warn_no_secret(self, connector: str, tenant: str, default: str) -> None:
        variable = self.secrets.variable(tenant, connector, default)
        with self._lock:
            if variable in self._warned:
                return
            self._warned.add(variable)
        log.warning(
            "%s webhooks for tenant %s are refused: set %s to the signing secret",
            connector,
            tenant,
            variable,
        )
