"""Outbox consumer benchmark: read throughput, and commit-to-delivery latency in follow mode.

    python -m bench.consumer_read --events 100000 --backend sqlite
    python -m bench.consumer_read --events 100000 --backend postgres [--db-url URL]

Throughput reads N pre-written events in batches (default 1000) three ways: a bare Core select (the
floor), `OutboxReader(typed=False)` and `OutboxReader(typed=True)` (each payload parsed with its
pydantic model). Targets: ≥ 50k events/s typed on SQLite; p95 commit-to-delivery ≤ 1 s following
on PostgreSQL (LISTEN/NOTIFY). Setup time (writing the events) is not measured.
PostgreSQL uses its own database (`bench_consumer`) and schema, never the test database.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from pipeline.consumer import OutboxReader
from pipeline.db import create_engine
from pipeline.events import build_payload, register_entity
from pipeline.migrate import upgrade
from pipeline.outbox import OutboxWriter
from pipeline.tables import event_outbox

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_consumer"
SCHEMA = "consumer_read"
PAGE = 1000
FIELDS = ("text", "user", "ts", "thread_ts", "reply_count", "reactions", "edited_ts", "subtype")


def event_row(i: int, now: datetime) -> dict[str, Any]:
    """A message event like the Slack stream writes: 70 % created, 25 % edited, 5 % deleted."""
    entity_id, kind = str(uuid.uuid4()), ("created",) * 14 + ("edited",) * 5 + ("deleted",)
    op = kind[i % 20]
    changed: dict[str, Any] | None = {f: {"from": None, "to": f"{f} value {i}"} for f in FIELDS}
    if op == "edited":
        changed = {"text": {"from": f"text {i}", "to": f"text {i} (edited)"}}
    payload = build_payload(
        entity_id,
        f"C024BE91L:{1700000000 + i}.000100",
        "slack",
        None if op == "deleted" else changed,
    )
    return {
        "event_id": str(uuid.uuid4()),
        "aggregatetype": "message",
        "aggregateid": entity_id,
        "type": f"message_{op}",
        "payload": payload,
        "tenant_id": "bench",
        "source": "integration",
        "occurred_at": now,
    }


def write_events(engine: Engine, count: int, per_tx: int = PAGE) -> None:
    """`count` events through the real writer, `per_tx` per transaction (a page: one timestamp)."""
    writer = OutboxWriter(notify=False)
    for start in range(0, count, per_tx):
        now = datetime.now(UTC)
        with engine.begin() as conn:
            writer.emit(conn, [event_row(i, now) for i in range(start, min(start + per_tx, count))])


def fresh_engine(backend: str, db_url: str | None, workdir: Path) -> Engine:
    """A migrated, empty outbox: a new SQLite file, or a recreated schema in `bench_consumer`."""
    if backend == "sqlite":
        engine = create_engine(db_url or f"sqlite:///{workdir / 'consumer_read.db'}")
    else:
        url = db_url or os.environ.get("BENCH_POSTGRES_URL") or DEFAULT_PG_URL
        ensure_database(url)
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
        admin.dispose()
        separator = "&" if "?" in url else "?"
        engine = create_engine(f"{url}{separator}options=-csearch_path%3D{SCHEMA}")
    upgrade(engine)
    return engine


def ensure_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
        ).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()


def core_select(engine: Engine, batch: int) -> int:
    """The floor: the same columns raw through a bare Core select by id; no objects, no parsing."""
    c, last, total = event_outbox.c, 0, 0
    raw = [
        sa.type_coerce(c.event_id, sa.String),
        sa.type_coerce(c.occurred_at, sa.String),
        sa.cast(c.payload, sa.Text),
    ]
    query = sa.select(
        c.id,
        raw[0],
        c.type,
        c.aggregatetype,
        c.aggregateid,
        c.tenant_id,
        c.source,
        c.subscription_id,
        c.run_id,
        raw[1],
        raw[2],
    )
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query.where(c.id > last).order_by(c.id).limit(batch)).all()
        if not rows:
            return total
        last, total = rows[-1][0], total + len(rows)


def read_all(engine: Engine, batch: int, typed: bool) -> int:
    reader, total = OutboxReader(engine, batch_size=batch, typed=typed), 0
    while events := reader.read():
        total += len(events)
    return total


def throughput(name: str, count: int, run: Callable[[], int], repeat: int) -> dict[str, Any]:
    """Best of `repeat` runs, per wall second and per CPU second of this process (on a shared box
    CPU time says how much work the reader did even while other processes steal the cores)."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        assert run() == count, name
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - cpu_started)
    return {
        "measure": name,
        "events": count,
        "wall_s": round(wall, 3),
        "events_per_s": round(count / wall),
        "events_per_cpu_s": round(count / cpu),
        "us_per_event": round(wall / count * 1e6, 2),
    }


def follow_latency(engine: Engine, transactions: int, per_tx: int, gap_s: float) -> dict[str, Any]:
    """A writer thread commits page transactions (with NOTIFY) while a follower reads them."""
    committed: dict[str, float] = {}
    reader = OutboxReader(engine, typed=True, position=_end(engine))
    writer = threading.Thread(
        target=_write_paced, args=(engine, transactions, per_tx, gap_s, committed)
    )
    start_writer = lambda: writer.ident or writer.start()  # noqa: E731 (after the first read)
    latencies = []
    with closing(reader.follow(max_idle_s=10.0, after_batch=start_writer)) as events:
        for event in islice(events, transactions * per_tx):
            transaction = event.payload.externalId.split("#")[0]  # type: ignore[union-attr]
            latencies.append(time.monotonic() - committed[transaction])
    writer.join()
    latencies.sort()
    return {
        "measure": "follow: commit -> delivery",
        "events": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
    }


def _end(engine: Engine) -> Any:
    reader = OutboxReader(engine, typed=False)
    reader.latest(1)
    return reader.position


def _write_paced(
    engine: Engine, transactions: int, per_tx: int, gap_s: float, committed: dict[str, float]
) -> None:
    writer, now = OutboxWriter(), datetime.now(UTC)
    for t in range(transactions):
        rows = [event_row(i, now) for i in range(per_tx)]
        for row in rows:
            row["payload"]["externalId"] = f"tx{t}#{row['payload']['externalId']}"
        with engine.connect() as conn, conn.begin() as tx:
            writer.emit(conn, rows)
            committed[f"tx{t}"] = time.monotonic()  # just before COMMIT: the latency includes it
            tx.commit()
        time.sleep(gap_s)


def machine(engine: Engine) -> str:
    """CPU, cores, load, Python and database versions: the figures mean little without them."""
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
        platform.processor(),
    )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            db = str(conn.exec_driver_sql("SELECT version()").scalar()).split(" on ")[0]
        else:
            db = f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()}"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} CPUs (load {load}), Python {platform.python_version()}, {db}"


def print_table(rows: list[dict[str, Any]]) -> None:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    cells = [keys] + [[str(row.get(k, "")) for k in keys] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(keys))]
    for row in cells:
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(padded))


def measure(engine: Engine, args: argparse.Namespace) -> list[dict[str, Any]]:
    n, batch, repeat = args.events, args.batch, args.repeat
    rows = [
        throughput("core select (floor)", n, lambda: core_select(engine, batch), repeat),
        throughput("reader, untyped", n, lambda: read_all(engine, batch, False), repeat),
        throughput("reader, typed", n, lambda: read_all(engine, batch, True), repeat),
    ]
    if engine.dialect.name == "postgresql":
        rows.append(follow_latency(engine, args.follow_transactions, 10, 0.01))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.consumer_read",
        description="Outbox consumer read throughput and latency.",
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--batch", type=int, default=PAGE, help="events per read")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed reads")
    parser.add_argument("--db-url", help="another database (PostgreSQL: a schema is made in it)")
    parser.add_argument(
        "--follow-transactions",
        type=int,
        default=200,
        help="page transactions of 10 events in the PostgreSQL latency run",
    )
    args = parser.parse_args(argv)
    register_entity("message")
    with tempfile.TemporaryDirectory() as workdir:
        engine = fresh_engine(args.backend, args.db_url, Path(workdir))
        write_events(engine, args.events)
        rows = measure(engine, args)
        print(f"machine: {machine(engine)}")
        print(
            f"backend: {args.backend}, {args.events} events, batch {args.batch}, "
            f"best of {args.repeat}"
        )
        print_table(rows)
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
