"""Baseline: the same page transaction written by hand, on the raw DB-API driver, with no framework.

Per page, in one transaction, exactly the work of DESIGN §4 minus the engine's extras (lease fencing,
run counters, NOTIFY, validation): one batched read of the stored (id, hash) for the page's keys, the
same canonical-JSON + BLAKE2b hash gate, the stored `data` of changed rows and a top-level field
diff, one executemany upsert of created/updated rows, one executemany tombstone update, run items
and outbox events for the changes, and the checkpoint update. It writes into the same migrated
schema as the engine (same tables and indexes), so the difference is the framework's overhead.

Canonicalisation is a hand-written dict mapping with the same output as
`connectors.slack.models.Message` (no validation: that is what "no framework" buys and risks).
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.engine import make_url

from bench.data import Timed, scenario_ops
from bench.measure import Stopwatch, pg_server_cpu_s
from pipeline.batch import COPY_MIN_ROWS
from pipeline.db import SQLITE_PRAGMAS
from pipeline.events import EVENT_NAMESPACE, time_ordered_uuid

TENANT, PROVIDER, ENTITY = "bench-baseline", "slack", "message"
SUBSCRIPTION_ID = str(uuid.uuid5(EVENT_NAMESPACE, "bench-baseline-subscription"))
_SORT = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_NS = EVENT_NAMESPACE.bytes
UNORDERED = ("reactions", "reply_users")  # the stream's unordered fields: hashed sorted


def content_digest(record: dict[str, Any]) -> str:
    """The hash gate's digest, with unordered lists sorted as the stream declares."""
    for name in UNORDERED:
        value = record.get(name)
        if isinstance(value, list) and len(value) > 1:
            record = {**record, name: sorted(value, key=lambda x: orjson.dumps(x, option=_SORT))}
    return hashlib.blake2b(orjson.dumps(record, option=_SORT), digest_size=16).hexdigest()


TYPED = (
    "channel",
    "ts",
    "thread_ts",
    "is_reply",
    "user",
    "subtype",
    "text",
    "edited_ts",
    "reply_count",
    "latest_reply",
)
UPSERT_COLUMNS = (
    "id",
    "tenant_id",
    "provider",
    "external_id",
    "content_hash",
    "version",
    "data",
    *TYPED,
    "created_at",
    "updated_at",
    "deleted_at",
    "delete_reason",
)
ITEM_COLUMNS = (
    "run_id",
    "tenant_id",
    "entity_type",
    "external_id",
    "local_id",
    "operation",
    "status",
    "changed_fields",
    "error",
    "created_at",
)
EVENT_COLUMNS = (
    "event_id",
    "aggregatetype",
    "aggregateid",
    "type",
    "payload",
    "tenant_id",
    "source",
    "subscription_id",
    "run_id",
    "occurred_at",
)
EVENT_TYPES = {
    "created": "message_created",
    "updated": "message_edited",
    "deleted": "message_deleted",
}


def canonical(raw: dict[str, Any]) -> dict[str, Any]:
    """The Slack message as stored (same keys, order and values as `Message.model_dump`)."""
    edited = raw.get("edited") or {}
    ts, thread_ts = raw["ts"], raw.get("thread_ts")
    return {
        "channel": raw["channel"],
        "ts": ts,
        "thread_ts": thread_ts,
        "is_reply": thread_ts is not None and thread_ts != ts,
        "user": raw.get("user"),
        "bot_id": raw.get("bot_id"),
        "subtype": raw.get("subtype"),
        "text": raw.get("text"),
        "blocks": raw.get("blocks"),
        "attachments": raw.get("attachments"),
        "files": raw.get("files"),
        "reactions": raw.get("reactions"),
        "edited_ts": edited.get("ts"),
        "edited_by": edited.get("user"),
        "reply_count": raw.get("reply_count"),
        "reply_users": raw.get("reply_users"),
        "latest_reply": raw.get("latest_reply"),
        "parent_user_id": raw.get("parent_user_id"),
    }


def uuid5(name: str) -> str:
    digest = bytearray(hashlib.sha1(_NS + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


class Dialect:
    """The few statements that differ between sqlite3 and psycopg."""

    def __init__(self, url: str) -> None:
        self.is_pg = not url.startswith("sqlite")
        if self.is_pg:
            import psycopg

            u = make_url(url)
            self.conn: Any = psycopg.connect(
                host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database
            )
            self.p = "%s"
        else:
            self.conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
            for pragma in SQLITE_PRAGMAS:  # the engine's own, so the ratio stays honest
                self.conn.execute(f"PRAGMA {pragma}")
            self.p = "?"
        p = self.p
        cast = (lambda t: f"::{t}") if self.is_pg else (lambda t: "")
        upsert_values = ", ".join(
            p + (cast("uuid") if c == "id" else cast("jsonb") if c == "data" else "")
            for c in UPSERT_COLUMNS
        )
        keep = {"id", "tenant_id", "provider", "external_id", "created_at"}
        quoted = [f'"{c}"' for c in UPSERT_COLUMNS]
        self.upsert = (
            f"INSERT INTO slack_messages ({', '.join(quoted)}) VALUES ({upsert_values}) "
            f"ON CONFLICT (tenant_id, provider, external_id) DO UPDATE SET "
            + ", ".join(f'"{c}" = excluded."{c}"' for c in UPSERT_COLUMNS if c not in keep)
        )
        self.tombstone = (
            f"UPDATE slack_messages SET deleted_at = {p}, updated_at = {p}, delete_reason = {p}, "
            f"version = version + 1 WHERE id = {p}{cast('uuid')}"
        )
        self.items = (
            f"INSERT INTO integration_run_items ({', '.join(ITEM_COLUMNS)}) VALUES "
            f"({', '.join(p + (cast('jsonb') if c == 'changed_fields' else '') for c in ITEM_COLUMNS)})"
        )
        self.events = (
            f"INSERT INTO event_outbox ({', '.join(EVENT_COLUMNS)}) VALUES "
            f"({', '.join(p + (cast('uuid') if c == 'event_id' else cast('jsonb') if c == 'payload' else '') for c in EVENT_COLUMNS)})"
        )
        self.statements = {
            "slack_messages": self.upsert,
            "integration_run_items": self.items,
            "event_outbox": self.events,
        }
        self.checkpoint = f"UPDATE integration_subscriptions SET checkpoint = {p}{cast('jsonb')}, updated_at = {p} WHERE id = {p}"
        if (
            self.is_pg
        ):  # one index probe per key: immune to stale planner statistics (see sinks/sql.py)
            self.slim = (
                "SELECT m.external_id, m.id::text, m.content_hash, m.version, m.deleted_at IS NOT NULL "
                "FROM unnest(%s::varchar[]) AS k(key), LATERAL (SELECT * FROM slack_messages m "
                "WHERE m.tenant_id = %s AND m.provider = %s AND m.external_id = k.key LIMIT 1) m"
            )
            self.data = (
                "SELECT m.external_id, m.data FROM unnest(%s::varchar[]) AS k(key), LATERAL (SELECT * "
                "FROM slack_messages m WHERE m.tenant_id = %s AND m.provider = %s AND m.external_id = k.key "
                "LIMIT 1) m"
            )

    def read(self, which: str, keys: list[str]) -> list[tuple[Any, ...]]:
        if self.is_pg:
            return list(
                self.conn.execute(
                    self.slim if which == "slim" else self.data, (keys, TENANT, PROVIDER)
                )
            )
        marks = ", ".join("?" * len(keys))
        cols = (
            "external_id, id, content_hash, version, deleted_at IS NOT NULL"
            if which == "slim"
            else "external_id, data"
        )
        sql = f"SELECT {cols} FROM slack_messages WHERE tenant_id = ? AND provider = ? AND external_id IN ({marks})"
        return self.conn.execute(sql, (TENANT, PROVIDER, *keys)).fetchall()

    def begin(self) -> None:
        if not self.is_pg:
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.is_pg:
            self.conn.commit()
        else:
            self.conn.execute("COMMIT")

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.cursor().executemany(sql, rows)

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """A page's rows: COPY on PostgreSQL from the engine's `COPY_MIN_ROWS` (an upsert through a
        staging table and one `INSERT … SELECT … ON CONFLICT`), executemany otherwise."""
        if not rows:
            return
        if not self.is_pg or len(rows) < COPY_MIN_ROWS:
            self.many(self.statements[table], rows)
            return
        names = ", ".join(f'"{c}"' for c in columns)
        cursor = self.conn.cursor()
        target = table
        if table == "slack_messages":
            target = "_stage_baseline"
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {target} (LIKE slack_messages INCLUDING DEFAULTS) "
                "ON COMMIT DELETE ROWS"
            )
        with cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if table == "slack_messages":
            cursor.execute(
                f"INSERT INTO slack_messages ({names}) SELECT {names} FROM {target} "
                + self.upsert[self.upsert.index("ON CONFLICT") :]
            )

    def now(self) -> Any:
        now = datetime.now(UTC)
        return now if self.is_pg else now.isoformat()

    def decode(self, data: Any) -> Any:
        return orjson.loads(data) if isinstance(data, (str, bytes)) else data


def setup(d: Dialect, run_id: str) -> None:
    p, now = d.p, d.now()
    cast = "::jsonb" if d.is_pg else ""
    d.begin()
    d.conn.execute(
        f"INSERT INTO integration_subscriptions (id, connector, stream, tenant_id, name, config, enabled, created_at, updated_at) "
        f"VALUES ({p}, 'slack', 'messages', {p}, 'default', {p}{cast}, {'true' if d.is_pg else '1'}, {p}, {p}) "
        f"ON CONFLICT (id) DO NOTHING",
        (SUBSCRIPTION_ID, TENANT, "{}", now, now),
    )
    d.conn.execute(
        f"INSERT INTO integration_runs (id, subscription_id, tenant_id, status, started_at) VALUES ({p}, {p}, {p}, 'running', {p})",
        (run_id, SUBSCRIPTION_ID, TENANT, now),
    )
    d.commit()


def apply_page(
    d: Dialect, ops: list[Any], run_id: str, page_no: int, counts: dict[str, int]
) -> None:
    now = d.now()
    dumps: Callable[[Any], str] = lambda v: orjson.dumps(v).decode()  # noqa: E731
    d.begin()
    stored = {r[0]: r for r in d.read("slim", [op.key for op in ops])}
    upserts: list[tuple[Any, ...]] = []
    tombstones: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    pending: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = []

    def write(
        op_name: str,
        key: str,
        entity_id: str,
        version: int,
        record: dict[str, Any],
        digest: str,
        changed: dict[str, Any],
    ) -> None:
        upserts.append(
            (
                entity_id,
                TENANT,
                PROVIDER,
                key,
                digest,
                version,
                dumps(record),
                *(record[c] for c in TYPED),
                now,
                now,
                None,
                None,
            )
        )
        emit(op_name, key, entity_id, version, changed)

    def emit(
        op_name: str, key: str, entity_id: str, version: int, changed: dict[str, Any] | None
    ) -> None:
        counts[op_name] += 1
        type_ = EVENT_TYPES[op_name]
        items.append(
            (
                run_id,
                TENANT,
                ENTITY,
                key,
                entity_id,
                op_name,
                "success",
                dumps(changed or {}),
                None,
                now,
            )
        )
        payload: dict[str, Any] = {
            "entityId": entity_id,
            "externalId": key,
            "provider": PROVIDER,
            "source": "integration",
        }
        if changed is not None:
            payload["changedFields"] = changed
        events.append(
            (
                uuid5(f"{SUBSCRIPTION_ID}\x1f{key}\x1f{type_}\x1f{version}"),
                ENTITY,
                entity_id,
                type_,
                dumps(payload),
                TENANT,
                "integration",
                SUBSCRIPTION_ID,
                run_id,
                now,
            )
        )

    for op in ops:
        row = stored.get(op.key)
        live = row is not None and not row[4]
        if op.record is None:
            if not live:
                counts["noop"] += 1
                continue
            tombstones.append((now, now, "deleted", str(row[1])))  # type: ignore[index]
            emit("deleted", op.key, str(row[1]), row[3] + 1, None)  # type: ignore[index]
            continue
        digest = content_digest(op.record)
        if live and row[2] == digest:  # type: ignore[index]
            counts["noop"] += 1
            continue
        record = canonical(op.record)
        if live:
            pending.append((op.key, row, record, digest))  # type: ignore[arg-type]
            continue
        entity_id = str(row[1]) if row is not None else time_ordered_uuid()
        version = row[3] + 1 if row is not None else 1
        write(
            "created",
            op.key,
            entity_id,
            version,
            record,
            digest,
            {k: {"from": None, "to": v} for k, v in record.items() if v is not None},
        )
    if pending:
        old = {r[0]: d.decode(r[1]) for r in d.read("data", [p[0] for p in pending])}
        for key, row, record, digest in pending:
            before = old.get(key, {})
            changed = {
                k: {"from": before.get(k), "to": v} for k, v in record.items() if before.get(k) != v
            }
            if not changed:
                counts["noop"] += 1
                continue
            write("updated", key, str(row[1]), row[3] + 1, record, digest, changed)
    d.write("slack_messages", UPSERT_COLUMNS, upserts)
    d.many(d.tombstone, tombstones)
    d.write("integration_run_items", ITEM_COLUMNS, items)
    d.write("event_outbox", EVENT_COLUMNS, events)
    d.conn.execute(
        d.checkpoint, (dumps({"bench": "baseline", "page": page_no}), now, SUBSCRIPTION_ID)
    )
    d.commit()


def run(url: str, scenario: str, records: int, seed: int = 0) -> dict[str, Any]:
    d = Dialect(url)
    run_id = str(uuid.uuid4())
    counts = dict.fromkeys(("created", "updated", "deleted", "noop", "failed"), 0)
    try:
        setup(d, run_id)
        pages = Timed(scenario_ops(scenario, records, seed))
        watch = Stopwatch().start()
        number = 0
        for number, ops in enumerate(pages, start=1):
            apply_page(d, ops, run_id, number, counts)
        d.begin()
        d.conn.execute(
            f"UPDATE integration_runs SET status = 'success' WHERE id = {d.p}", (run_id,)
        )
        d.commit()
        watch.stop()
        server_cpu = pg_server_cpu_s(d.conn) if d.is_pg else None
    finally:
        d.conn.close()
    return {
        "seconds": watch.wall - pages.seconds,
        "cpu_seconds": watch.cpu - pages.cpu_seconds,
        "server_cpu_seconds": server_cpu,
        "wall_seconds": watch.wall,
        "generate_seconds": pages.seconds,
        "pages": number,
        "counts": counts,
    }
