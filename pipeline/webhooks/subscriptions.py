"""Which subscription a webhook belongs to, and its signing secret (DESIGN §8 tenants).

A tenant's deliveries for a stream are applied as runs of its subscription to that stream: the one
in `integration_subscriptions` (the `default` one first), else the one `pipeline.toml` declares,
else a default subscription. The secret comes from the variable the subscription names in
`signing_secret_env`, else from the connector's default variable.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import load_config
from pipeline.errors import register_secret
from pipeline.subscriptions import Subscription
from pipeline.tables import subscriptions


def find_subscription(engine: Engine, tenant: str, connector: str, stream: str) -> Subscription:
    """The subscription a tenant's webhook for `connector-stream` is applied to."""
    c = subscriptions.c
    query = (
        sa.select(c.name, c.config, c.enabled)
        .where(c.tenant_id == tenant, c.connector == connector, c.stream == stream)
        .order_by(c.enabled.desc(), (c.name == "default").desc(), c.name)
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is not None:
        return Subscription(connector, stream, tenant, row[0], dict(row[1] or {}), bool(row[2]))
    config = load_config()
    declared = config.find(f"{connector}-{stream}", tenant) if config else None
    if declared is not None and declared.tenant == tenant:
        return declared.subscription()
    return Subscription(connector, stream, tenant)


def poll_is_due(engine: Engine, subscription_id: str, now: datetime) -> bool:
    """Whether `pipeline schedule` would run the subscription now (enabled and due)."""
    c = subscriptions.c
    query = sa.select(c.id).where(c.id == subscription_id, c.enabled, c.next_run_at <= now)
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def secret_variable(engine: Engine, tenant: str, connector: str, default: str) -> str:
    """The variable a tenant's subscriptions to `connector` name for the secret, else `default`.

    A vendor signs every delivery of one endpoint with one secret, whatever stream it feeds.
    """
    c = subscriptions.c
    query = sa.select(c.config).where(c.tenant_id == tenant, c.connector == connector)
    with engine.connect() as conn:
        configs = [dict(r[0] or {}) for r in conn.execute(query.order_by(c.enabled.desc()))]
    file = load_config()
    configs += [
        s.subscription().config
        for s in (file.subscriptions if file else [])
        if s.tenant == tenant and s.stream.startswith(f"{connector}-")
    ]
    named = [str(cfg["signing_secret_env"]) for cfg in configs if cfg.get("signing_secret_env")]
    return named[0] if named else default


class SecretLookup:
    """Signing secrets per (tenant, connector), the variable's name cached for `ttl_s` (a read per
    request would double the database work of a receipt)."""

    def __init__(self, engine: Engine, ttl_s: float = 5.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def variable(self, tenant: str, connector: str, default: str) -> str:
        """The name of the variable holding the secret (never the secret itself)."""
        key = (tenant, connector)
        with self._lock:
            found = self._cache.get(key)
        if found is not None and time.monotonic() - found[0] < self.ttl_s:
            return found[1]
        name = secret_variable(self.engine, tenant, connector, default)
        with self._lock:
            self._cache[key] = (time.monotonic(), name)
        return name

    def secret(self, tenant: str, connector: str, default: str) -> str | None:
        value = os.environ.get(self.variable(tenant, connector, default))
        register_secret(value)
        return value or None
