"""`python -m bench.schedule`: how many runs/s `pipeline schedule` processes sustain, and how late.

    python -m bench.schedule                      # PostgreSQL 1 and 4 processes, SQLite 1 process
    python -m bench.schedule --seconds 60 --only pg --processes 4

Each sequence: a fresh database, N subscriptions over T tenants of a fast in-process source (one
page of ten records, one of which changes each run), due times spread over the first interval;
P real processes claim and run them for S seconds. Reported: runs/s, scheduling lag p50/p95
(start − due), database statements per run, overlapping runs of one subscription and collision
(`skipped`) rows. Never run by CI or pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count, pairwise
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from bench import databases
from pipeline.claims import Claim
from pipeline.db import as_utc, create_engine
from pipeline.ledger import Run
from pipeline.migrate import upgrade
from pipeline.scheduler import Scheduler, ScheduleSettings
from pipeline.subscription_store import Trigger, _insert_values
from pipeline.subscriptions import Subscription
from pipeline.tables import runs, subscriptions
from pipeline.testing import ScriptedSource, item, test_metadata

REPO = Path(__file__).resolve().parent.parent
SCHEMA_PG = "bench_schedule"
STARTUP_S = 15.0  # processes import and connect before the first subscription is due


class ChangingSource(ScriptedSource):
    """One page of ten records; record `n % 10` changes on the n-th run (one edit per run)."""


def source_for(counter: Iterator[int]) -> Any:
    def make(sub: Subscription) -> ChangingSource:
        n = next(counter)
        records = [item(str(i), count=n if i == n % 10 else 0) for i in range(10)]
        return ChangingSource([records])

    return make


class TimedScheduler(Scheduler):
    """Records each claim's lag (start − due) as it starts."""

    lags_s: list[float]

    def execute(self, claim: Claim) -> Run | None:
        if claim.due.due_at is not None:
            self.lags_s.append((self.clock.now() - claim.due.due_at).total_seconds())
        return super().execute(claim)


def worker(url: str, seconds: float, workers: int, start: float) -> None:
    """One `pipeline schedule` process (the real loop) from `start` (Unix time) for `seconds`,
    counting its database statements."""
    engine = create_engine(url)
    statements = [0]
    event.listen(
        engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1)
    )
    settings = ScheduleSettings(workers=workers, lease_ttl_s=60, poll_interval_s=1.0)
    scheduler = TimedScheduler(engine, settings, source_for=source_for(count()))
    scheduler.lags_s = []
    done = threading.Event()
    time.sleep(max(0.0, start - time.time()))  # every process starts together, imports done
    statements[0] = 0
    threading.Timer(seconds, done.set).start()
    scheduler.serve_forever(done)
    print(json.dumps({"statements": statements[0], "lags_s": scheduler.lags_s}))


def prepare(url: str, subs: int, tenants: int, interval_s: float, start: datetime) -> None:
    """A migrated, empty database with `subs` subscriptions due over the first interval."""
    engine = create_engine(url)
    upgrade(engine)
    test_metadata.create_all(engine)
    rows = []
    for n in range(subs):
        sub = Subscription("testing", "items", f"tenant-{n % tenants:04}", f"s{n:05}")
        values = _insert_values(sub, Trigger(interval_s), start)
        values["next_run_at"] = start + timedelta(seconds=interval_s * n / subs)
        rows.append(values)
    with engine.begin() as conn:
        conn.execute(subscriptions.insert(), rows)
    engine.dispose()


def measure(url: str, processes: int, seconds: float, workers: int, start: float) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.schedule",
        "--worker",
        url,
        "--seconds",
        str(seconds),
        "--workers",
        str(workers),
        "--start",
        str(start),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    engine = create_engine(url)
    with engine.connect() as conn:
        ledger = [
            dict(r) for r in conn.execute(sa.select(runs).order_by(runs.c.started_at)).mappings()
        ]
    engine.dispose()
    lags = sorted(lag for out in outs for lag in out["lags_s"])
    finished = [r for r in ledger if r["status"] != "running"]
    return {
        "runs": len(finished),
        "runs_per_s": round(len(finished) / seconds, 1),
        "lag_p50_s": round(_pct(lags, 0.50), 3),
        "lag_p95_s": round(_pct(lags, 0.95), 3),
        "lag_max_s": round(lags[-1], 3) if lags else None,
        "statements_per_run": round(sum(o["statements"] for o in outs) / max(1, len(finished)), 1),
        "overlaps": _overlaps(ledger),
        "collision_rows": sum(r["status"] == "skipped" for r in ledger),
        "stopped_at_shutdown": sum(
            (r["error"] or "").startswith("stopped by shutdown") for r in finished
        ),
        "failed": sum(
            r["status"] not in ("success", "no_changes")
            and not (r["error"] or "").startswith("stopped by shutdown")
            for r in finished
        ),
    }


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _overlaps(ledger: list[dict[str, Any]]) -> int:
    by_sub: dict[str, list[dict[str, Any]]] = {}
    for run in ledger:
        by_sub.setdefault(run["subscription_id"], []).append(run)
    return sum(
        1
        for sub_runs in by_sub.values()
        for a, b in pairwise(sub_runs)
        if a["completed_at"] is None or as_utc(a["completed_at"]) > as_utc(b["started_at"])  # type: ignore[operator]
    )


def pg_database(base: str) -> str:
    url = sa.engine.make_url(base).set(database=SCHEMA_PG)
    databases.ensure_pg_database(url.render_as_string(hide_password=False))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    return url.render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.schedule")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--workers", type=int, default=8, help="threads per process")
    parser.add_argument(
        "--interval", type=float, default=60, help="seconds between runs of a subscription"
    )
    parser.add_argument("--only", choices=["pg", "sqlite"])
    parser.add_argument("--processes", default="1,4", help="PostgreSQL process counts")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.seconds, args.workers, args.start)
        return
    plans = []
    if args.only != "sqlite":
        plans += [("postgresql", int(p), 2000, 500) for p in args.processes.split(",")]
    if args.only != "pg":
        plans.append(("sqlite", 1, 200, 50))
    with tempfile.TemporaryDirectory() as workdir:
        for dialect, processes, subs, tenants in plans:
            url = (
                pg_database(databases.pg_url())
                if dialect == "postgresql"
                else databases.sqlite_url(Path(workdir), f"schedule{processes}")
            )
            start = time.time() + STARTUP_S
            prepare(url, subs, tenants, args.interval, datetime.fromtimestamp(start, UTC))
            result = measure(url, processes, args.seconds, args.workers, start)
            line = {
                "dialect": dialect,
                "processes": processes,
                "subscriptions": subs,
                "tenants": tenants,
                "interval_s": args.interval,
                "seconds": args.seconds,
                **result,
            }
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
