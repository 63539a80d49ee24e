"""Webhook benchmark (issue 14): receipt-to-outbox latency and sustained deliveries/s of
`pipeline serve`, on SQLite and PostgreSQL, with 1, 4 and 16 concurrent senders; then a SIGKILL of
serve mid-load, counting lost and duplicated events.

    python -m bench.webhooks                                  # both databases, 1/4/16 senders, 5 s each
    python -m bench.webhooks --backend postgres --senders 16 --seconds 10 --rate 200
    python -m bench.webhooks --kill-only
    python -m bench.webhooks --backend postgres --serves 2 --senders 16 --rate 200   # two serves, one db
    BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_webhooks python -m bench.webhooks

Each sender POSTs signed Slack `message` deliveries (a new message each, so each must become exactly
one `message_created` event), back to back or paced to `--rate` deliveries/s in total. A refused or
failed POST is retried with the same `event_id`, as Slack retries. Latency, from the receipt
(`integration_inbox.received_at`, stamped in the receipt transaction), two ways:
- `visible_*`: to the event being visible in `event_outbox`, as seen by a consumer in a process of
  its own polling every 5 ms (receipt-to-outbox, what a reader of the events waits);
- `applied_*`: to the inbox row's `applied_at`, stamped when its page transaction starts (the
  server's own clock; it leaves out the page transaction itself).
`serve_cpu_ms_per_delivery` is serve's CPU time under load over the deliveries (start-up excluded).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.databases import pg_url, reset, sqlite_url
from connectors.slack.sandbox.events import sign
from pipeline.db import create_engine
from pipeline.migrate import upgrade

SECRET = "bench-signing-secret"
ROOT = Path(__file__).resolve().parents[1]


def start_serve(url: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "SLACK_SIGNING_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--db", url, "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not found:
        raise SystemExit(f"serve did not start: {line!r}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # listening once /healthz answers
        try:
            if httpx.get(f"{found.group(0)}/healthz").status_code == 200:
                return proc, found.group(0)
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("serve never answered /healthz")


def delivery(sender: int, n: int) -> tuple[str, str, bytes]:
    """A new message's delivery: its event id, the message's external id, the body."""
    ts = f"{1767225600 + sender * 100_000 + n // 1_000_000}.{n % 1_000_000:06d}"
    event_id = f"Ev{uuid.uuid4().hex[:20].upper()}"
    event = {
        "type": "message",
        "channel": f"CBENCH{sender:02d}",
        "ts": ts,
        "user": "U1",
        "text": f"message {n} from sender {sender}",
        "event_ts": ts,
    }
    body = {"type": "event_callback", "api_app_id": "ABENCH", "event_id": event_id, "event": event}
    return event_id, f"{event['channel']}:{ts}", json.dumps(body).encode()


@dataclass
class Senders:
    """Threads POSTing deliveries until `stop`; every delivery is retried until acknowledged."""

    count: int
    rate: float | None
    url: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    acknowledged: set[str] = field(default_factory=set)
    keys: dict[str, str] = field(default_factory=dict)
    """Event id → the external id of the message it creates."""
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, index: int) -> None:
        gap = self.count / self.rate if self.rate else 0.0
        with httpx.Client(timeout=10) as client:
            n, next_at = 0, time.monotonic()
            while not self.stop.is_set():
                event_id, key, body = delivery(index, n)
                self.keys[event_id] = key
                self.send(client, event_id, body, index)
                n += 1
                if gap:
                    next_at += gap
                    time.sleep(max(0.0, next_at - time.monotonic()))

    def send(self, client: httpx.Client, event_id: str, body: bytes, index: int) -> None:
        while True:
            stamp = str(int(time.time()))
            headers = {
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": sign(SECRET, stamp, body),
            }
            try:
                if (
                    client.post(
                        f"{self.url[index % len(self.url)]}/webhooks/slack",
                        content=body,
                        headers=headers,
                    ).status_code
                    == 200
                ):
                    with self.lock:
                        self.acknowledged.add(event_id)
                    return
            except httpx.HTTPError:
                pass
            with self.lock:
                self.retries += 1
            time.sleep(0.05)  # serve is down: retry like Slack (sooner)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(self.count)
        ]
        for thread in threads:
            thread.start()
        return threads


def cpu_s(pid: int) -> float:
    """The process's CPU seconds so far (user + system, Linux `/proc`): the cost of the work,
    steadier than latency on a shared, loaded machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Watcher:
    """A reader of the outbox in a process of its own, polling it every `every_s` as a consumer
    would: when each message's event became visible (committed). Rows are read again a window back,
    since PostgreSQL commits outbox ids out of order."""

    def __init__(self, url: str, every_s: float = 0.005) -> None:
        context = multiprocessing.get_context("fork")  # before the sender threads start
        self.stop = context.Event()
        self.results, sink = context.Pipe(duplex=False)
        self.process = context.Process(target=watch, args=(url, every_s, self.stop, sink))
        self.process.start()

    def close(self) -> dict[str, float]:
        """Stop watching; external id → when its event was first seen (wall clock)."""
        self.stop.set()
        seen: dict[str, float] = self.results.recv()
        self.process.join()
        return seen


def watch(url: str, every_s: float, stop: Any, results: Any) -> None:
    engine = create_engine(url)
    key = sa.column("payload", sa.JSON)["externalId"].as_string()
    query = sa.select(sa.column("id"), key).select_from(sa.table("event_outbox"))
    seen: dict[str, float] = {}
    low = 0
    while not stop.wait(every_s):
        with engine.connect() as conn:
            rows = conn.execute(query.where(sa.column("id") > low)).all()
        now = time.time()
        for _, external_id in rows:
            seen.setdefault(external_id, now)
        if rows:
            low = max(low, max(r[0] for r in rows) - 2000)
    results.send(seen)
    engine.dispose()


def visible_figures(
    engine: sa.Engine, keys: dict[str, str], seen: dict[str, float]
) -> dict[str, Any]:
    """Receipt (the inbox's `received_at`) → the event visible to a consumer polling every 5 ms."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT delivery_id, received_at FROM integration_inbox")).all()
    latencies = sorted(
        seen[keys[d]] - _seconds(r) for d, r in rows if d in keys and keys[d] in seen
    )
    if len(latencies) < 2:
        return {}
    q = statistics.quantiles(latencies, n=100)
    return {
        "visible_p50_ms": round(q[49] * 1000, 1),
        "visible_p95_ms": round(q[94] * 1000, 1),
        "visible_p99_ms": round(q[98] * 1000, 1),
    }


def wait_applied(engine: sa.Engine, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    query = sa.text("SELECT count(*) FROM integration_inbox WHERE status = 'pending'")
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one() == 0:
                return
        time.sleep(0.1)
    raise SystemExit("deliveries still pending after the load")


def figures(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT received_at, applied_at FROM integration_inbox")).all()
        runs = conn.execute(sa.text("SELECT count(*) FROM integration_runs")).scalar_one()
        pages = conn.execute(sa.text("SELECT sum(pages) FROM integration_runs")).scalar_one()
    latencies = sorted(_seconds(a) - _seconds(r) for r, a in rows)
    span = max(_seconds(a) for _, a in rows) - min(_seconds(r) for r, _ in rows)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "deliveries": len(rows),
        "runs": runs,
        "per_page": round(len(rows) / max(pages or 0, 1), 1),
        "deliveries_per_s": round(len(rows) / span, 1) if span else None,
        "applied_p50_ms": round(q[49] * 1000, 1),
        "applied_p95_ms": round(q[94] * 1000, 1),
        "applied_p99_ms": round(q[98] * 1000, 1),
    }


def _seconds(value: Any) -> float:
    if isinstance(value, str):  # SQLite hands timestamps back as text through `sa.text`
        from datetime import datetime

        value = datetime.fromisoformat(value)
    return float(value.timestamp())


def check_events(engine: sa.Engine, acknowledged: set[str]) -> dict[str, int]:
    """Lost: an acknowledged delivery without its event; duplicated: an entity with two creates."""
    with engine.connect() as conn:
        held = set(conn.execute(sa.text("SELECT delivery_id FROM integration_inbox")).scalars())
        events = conn.execute(
            sa.text("SELECT aggregateid, count(*) FROM event_outbox GROUP BY aggregateid")
        ).all()
        entities = conn.execute(sa.text("SELECT count(*) FROM slack_messages")).scalar_one()
    return {
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged - held) + max(0, len(held) - len(events)),
        "duplicated": sum(n - 1 for _, n in events if n > 1),
        "events": len(events),
        "entities": entities,
    }


def fresh(backend: str, workdir: Path) -> str:
    url = pg_url() if backend == "postgres" else sqlite_url(workdir, "webhooks")
    reset(url)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def load(
    backend: str, senders: int, seconds: float, rate: float | None, workdir: Path, serves: int = 1
) -> dict[str, Any]:
    """`serves` processes on one database; sender i posts to serve i mod `serves` (a vendor
    behind a load balancer), so a run in one process applies what another received."""
    url = fresh(backend, workdir)
    procs, urls = zip(*(start_serve(url) for _ in range(serves)), strict=True)
    idle_cpu_s = sum(cpu_s(p.pid) for p in procs)  # start-up and imports
    load = Senders(senders, rate, list(urls))
    watcher = Watcher(url)
    threads = load.start()
    time.sleep(seconds)
    load.stop.set()
    for thread in threads:
        thread.join()
    engine = create_engine(url)
    try:
        wait_applied(engine)
        time.sleep(0.05)  # the watcher's last look
        seen = watcher.close()
        result = {"backend": backend, "senders": senders, "rate": rate, "serves": serves}
        result.update(figures(engine))
        result.update(visible_figures(engine, load.keys, seen))
        cpu_ms = (sum(cpu_s(p.pid) for p in procs) - idle_cpu_s) * 1000
        result["serve_cpu_ms_per_delivery"] = round(cpu_ms / result["deliveries"], 2)
        result.update(check_events(engine, load.acknowledged))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        engine.dispose()
    return result


def kill_mid_load(backend: str, senders: int, seconds: float, workdir: Path) -> dict[str, Any]:
    """SIGKILL serve half way through the load, start a new one, finish the load, count events."""
    url = fresh(backend, workdir)
    proc, served = start_serve(url)
    load = Senders(senders, None, [served])
    threads = load.start()
    time.sleep(seconds / 2)
    proc.kill()
    proc.wait()
    proc, load.url[0] = start_serve(url)  # senders retry against the new process
    time.sleep(seconds / 2)
    load.stop.set()
    for thread in threads:
        thread.join()
    engine = create_engine(url)
    try:
        wait_applied(engine)
        result = {
            "backend": backend,
            "senders": senders,
            "scenario": "sigkill",
            "retries": load.retries,
        }
        result.update(check_events(engine, load.acknowledged))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        engine.dispose()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--senders", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--rate", type=float, default=None, help="total deliveries/s (default: flat out)"
    )
    parser.add_argument("--kill-only", action="store_true")
    parser.add_argument("--no-kill", action="store_true", help="skip the SIGKILL run")
    parser.add_argument("--serves", type=int, default=1, help="serve processes on one database")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            if not args.kill_only:
                for n in (int(s) for s in args.senders.split(",")):
                    result = load(backend, n, args.seconds, args.rate, Path(tmp), args.serves)
                    print(json.dumps(result), flush=True)
            if not args.no_kill:
                print(json.dumps(kill_mid_load(backend, 16, args.seconds, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
