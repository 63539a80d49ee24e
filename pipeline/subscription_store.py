"""Subscriptions in the database (DESIGN §9): add, find, pause, resume, remove, enqueue, import.

`integration_subscriptions` is the source of truth for `pipeline schedule`; `pipeline.toml` is
imported into it (idempotent). Every change that makes work due at once (add, resume, enqueue)
sends a `NOTIFY` on PostgreSQL so idle schedulers wake up; SQLite schedulers poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from pipeline.config import ENGINE_KEYS, PipelineConfig, SubscriptionConfig
from pipeline.db import as_utc, write_transaction
from pipeline.errors import ConfigError
from pipeline.registry import get_connector, get_stream
from pipeline.subscriptions import Subscription
from pipeline.tables import leases, subscriptions
from pipeline.triggers import DEFAULT_INTERVAL_S, next_due

WAKE_CHANNEL = "pipeline_subscriptions"
_TOML_PAUSED = "pipeline.toml: enabled = false"


@dataclass(frozen=True)
class Trigger:
    """Either an interval in seconds or a 5-field cron expression."""

    interval_s: float | None = DEFAULT_INTERVAL_S
    schedule: str | None = None

    def describe(self) -> str:
        return f"cron {self.schedule}" if self.schedule else f"every {_seconds(self.interval_s)}"


def validated_subscription(
    stream: str, tenant: str, name: str, settings: Mapping[str, Any]
) -> Subscription:
    """The one place a subscription's config is validated: by its connector's model. Bad input
    is one `ConfigError` line."""
    reserved = sorted(set(settings) & set(ENGINE_KEYS))
    if reserved:
        raise ConfigError(f"--set {reserved[0]}: not a config key; use the command's own option")
    found = get_stream(stream)
    get_connector(found.connector).validate(settings, "--set")
    return Subscription(found.connector, found.name, tenant, name, dict(settings))


class SubscriptionStore:
    """Reads and changes `integration_subscriptions` for the CLI and the scheduler."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, sub: Subscription, trigger: Trigger, now: datetime) -> None:
        """A new, enabled subscription, due at once; `ConfigError` if it exists already."""
        with write_transaction(self.engine) as conn:
            if not _insert_new(conn, _insert_values(sub, trigger, now)):
                raise ConfigError(
                    f"{label(sub)} exists already; `pipeline subscriptions remove` it first, "
                    "or give another --name"
                )
            wake(conn)

    def find(self, stream: str, tenant: str, name: str) -> dict[str, Any]:
        """The subscription row, or `ConfigError` pointing at `pipeline subscriptions list`."""
        connector, _, stream_name = stream.partition("-")
        query = sa.select(subscriptions).where(
            subscriptions.c.connector == connector,
            subscriptions.c.stream == stream_name,
            subscriptions.c.tenant_id == tenant,
            subscriptions.c.name == name,
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise ConfigError(
                f"no subscription {stream}/{tenant}/{name} (see `pipeline subscriptions list`)"
            )
        return dict(row)

    def pause(self, sub_id: str, reason: str, now: datetime) -> None:
        """Stop scheduling it (a run in progress finishes)."""
        self._update(sub_id, enabled=False, paused_reason=reason, updated_at=now)

    def resume(self, sub_id: str, now: datetime) -> None:
        """Schedule it again, due at once, with a fresh retry count."""
        self._update(
            sub_id,
            enabled=True,
            paused_reason=None,
            attempt=0,
            next_run_at=now,
            updated_at=now,
            notify=True,
        )

    def enqueue(self, sub_id: str, now: datetime) -> None:
        """Due now (`pipeline run STREAM --enqueue`): the next free scheduler runs it."""
        self._update(sub_id, next_run_at=now, updated_at=now, notify=True)

    def remove(self, sub_id: str, now: datetime) -> None:
        """Delete it with its runs and lease; refused while a run holds its lease."""
        with write_transaction(self.engine) as conn:
            holder = conn.execute(
                sa.select(leases.c.owner).where(
                    leases.c.subscription_id == sub_id,
                    leases.c.owner.is_not(None),
                    leases.c.leased_until > now,
                )
            ).scalar()
            if holder is not None:
                raise ConfigError(
                    f"a run holds this subscription now ({holder}); pause it, then remove it "
                    "once that run has ended"
                )
            conn.execute(subscriptions.delete().where(subscriptions.c.id == sub_id))

    def import_config(self, config: PipelineConfig, now: datetime) -> tuple[int, int]:
        """Make the database match `pipeline.toml`'s subscriptions: (added, changed).

        Idempotent. Config and trigger follow the file; `enabled = false` pauses. A subscription
        paused by `pipeline subscriptions pause` stays paused, and one the file no longer lists
        stays in the database (it is the source of truth).
        """
        added = changed = 0
        with write_transaction(self.engine) as conn:
            for declared in config.subscriptions:
                outcome = _import_one(conn, declared, now)
                added += outcome == "added"
                changed += outcome == "changed"
            if added or changed:
                wake(conn)
        return added, changed

    def _update(self, sub_id: str, notify: bool = False, **values: Any) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                subscriptions.update().where(subscriptions.c.id == sub_id).values(**values)
            )
            if notify:
                wake(conn)


def _import_one(conn: Connection, declared: SubscriptionConfig, now: datetime) -> str:
    sub = declared.subscription()
    trigger = Trigger(
        declared.interval_s or (None if declared.schedule else DEFAULT_INTERVAL_S),
        declared.schedule,
    )
    row = (
        conn.execute(sa.select(subscriptions).where(subscriptions.c.id == sub.id))
        .mappings()
        .first()
    )
    if row is None:
        values = _insert_values(sub, trigger, now)
        if not declared.enabled:
            values.update(enabled=False, paused_reason=_TOML_PAUSED)
        return "added" if _insert_new(conn, values) else "unchanged"  # another process won
    changes: dict[str, Any] = {}
    if row["config"] != sub.config:
        changes["config"] = sub.config
    if (row["interval_s"], row["schedule"]) != (trigger.interval_s, trigger.schedule):
        changes.update(interval_s=trigger.interval_s, schedule=trigger.schedule)
        changes["next_run_at"] = next_due(trigger.interval_s, trigger.schedule, None, now)
    if row["next_run_at"] is None and row["enabled"]:
        changes["next_run_at"] = now  # created by a one-off `pipeline run`: now scheduled
    if not declared.enabled and row["enabled"]:
        changes.update(enabled=False, paused_reason=_TOML_PAUSED)
    if not changes:
        return "unchanged"
    conn.execute(
        subscriptions.update().where(subscriptions.c.id == sub.id).values(updated_at=now, **changes)
    )
    return "changed"


def _insert_values(sub: Subscription, trigger: Trigger, now: datetime) -> dict[str, Any]:
    return dict(
        id=sub.id,
        connector=sub.connector,
        stream=sub.stream,
        tenant_id=sub.tenant_id,
        name=sub.name,
        config=sub.config,
        enabled=True,
        interval_s=trigger.interval_s,
        schedule=trigger.schedule,
        next_run_at=now,
        attempt=0,
        created_at=now,
        updated_at=now,
    )


def _insert_new(conn: Connection, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: False when the row exists (two importers may race)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(subscriptions).values(**values).on_conflict_do_nothing()
    return conn.execute(statement.returning(subscriptions.c.id)).first() is not None


def wake(conn: Connection) -> None:
    """Inside a write transaction: wake idle schedulers when it commits (PostgreSQL only)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(WAKE_CHANNEL, "")))


def label(sub: Subscription) -> str:
    return f"{sub.stream_name}/{sub.tenant_id}/{sub.name}"


def row_subscription(row: Mapping[str, Any]) -> Subscription:
    """The `Subscription` a database row describes."""
    return Subscription(
        row["connector"],
        row["stream"],
        row["tenant_id"],
        row["name"],
        dict(row["config"]),
        bool(row["enabled"]),
    )


def due_at(row: Mapping[str, Any]) -> datetime | None:
    return as_utc(row["next_run_at"])


def _seconds(value: float | None) -> str:
    seconds = value or DEFAULT_INTERVAL_S
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
