"""Subscriptions (DESIGN §3): one configured stream for one tenant and scope, with its checkpoint.

The checkpoint store reads and advances `integration_subscriptions.checkpoint`; `put` runs only
inside a page transaction, and refuses a subscription row that does not exist (seed-spec §9.13).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.changes import Checkpoint
from pipeline.db import insert_ignore, write_transaction
from pipeline.errors import PipelineError
from pipeline.tables import subscriptions

DEFAULT_TENANT = "default"
_NAMESPACE = uuid.UUID("0b7c9d8e-51a2-4e0f-9f6e-3d2c1b0a9e8f")


@dataclass(frozen=True)
class Subscription:
    """One configured stream for one tenant; `config` holds scope, lookback, regime, token variable."""

    connector: str
    stream: str
    tenant_id: str = DEFAULT_TENANT
    name: str = "default"
    config: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True

    @property
    def id(self) -> str:
        key = f"{self.tenant_id}/{self.connector}-{self.stream}/{self.name}"
        return str(uuid.uuid5(_NAMESPACE, key))

    @property
    def stream_name(self) -> str:
        return f"{self.connector}-{self.stream}"


def ensure_subscription(engine: Engine, sub: Subscription, now: datetime) -> None:
    """Create the subscription row, or refresh its config. The checkpoint, and whether it is
    enabled or scheduled (`pipeline subscriptions`), are never touched here."""
    values = {"config": sub.config, "updated_at": now}
    with write_transaction(engine) as conn:
        insert_ignore(
            conn,
            subscriptions,
            dict(
                id=sub.id,
                connector=sub.connector,
                stream=sub.stream,
                tenant_id=sub.tenant_id,
                name=sub.name,
                created_at=now,
                enabled=sub.enabled,
                **values,
            ),
        )
        conn.execute(subscriptions.update().where(subscriptions.c.id == sub.id).values(**values))


class SqlCheckpoints:
    """`CheckpointStore` on `integration_subscriptions.checkpoint`."""

    def get(self, conn: Connection, subscription_id: str) -> Checkpoint | None:
        row = conn.execute(
            sa.select(subscriptions.c.checkpoint).where(subscriptions.c.id == subscription_id)
        ).first()
        return row[0] if row else None

    def put(
        self, conn: Connection, subscription_id: str, checkpoint: Checkpoint | None, now: datetime
    ) -> None:
        result = conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == subscription_id)
            .values(checkpoint=checkpoint, updated_at=now)
        )
        if result.rowcount != 1:
            raise PipelineError(
                f"subscription {subscription_id} does not exist; cannot store its checkpoint"
            )

    def reset(self, engine: Engine, subscription_id: str, now: datetime) -> bool:
        """Forget the checkpoint (`pipeline state reset`, `--full-refresh`)."""
        with write_transaction(engine) as conn:
            result = conn.execute(
                subscriptions.update()
                .where(subscriptions.c.id == subscription_id)
                .values(checkpoint=None, updated_at=now)
            )
        return result.rowcount == 1
