"""Linear: API calls and complexity points of a first sync of 10,000 issues and of an idle re-sync,
and end-to-end records/s of `linear-issues` on SQLite and PostgreSQL (issue 12, closing note).

    python -m bench.linear_sync [--issues 10000] [--page-size 250] [--dialects sqlite,postgresql]

The real stream (connector, HTTP layer, Orchestrator, sink) runs against the in-process sandbox on
a fake clock shared with the client, with Linear's default budgets (5,000 requests/h, 250,000
points/h, 10,000 points per query): a RATELIMITED answer is waited out on that clock, never slept.
API calls and complexity points are the sandbox's own counters. `cpu_s` is this process's CPU
(pipeline and sandbox, not PostgreSQL's server), `sandbox_cpu_s` the sandbox's share of it (its
graphql-core execution dominates), so `records_per_pipeline_cpu_s` is what our side costs, a
figure a loaded machine does not skew. PostgreSQL uses the database
`bench_linear` on the `BENCH_POSTGRES_URL` server (reset first).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.databases import pg_url, reset
from connectors.linear.sandbox import Sandbox
from pipeline.db import create_engine
from pipeline.migrate import upgrade
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.testing import FakeClock

SUBSCRIPTION = Subscription("linear", "issues", tenant_id="bench-linear")


def sandbox_of(issues: int, seed: int = 1) -> Sandbox:
    sandbox = Sandbox(seed=seed)
    sandbox.bulk_seed(max(issues - len(sandbox.store.issues), 0), seed)
    return sandbox


def database_url(dialect: str, workdir: Path) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{workdir / 'linear.db'}"
    return make_url(pg_url()).set(database="bench_linear").render_as_string(hide_password=False)


def sync_twice(url: str, issues: int, page_size: int) -> list[dict[str, Any]]:
    """A first sync then an idle re-sync (one fake minute later) into a fresh database."""
    reset(url)
    engine = create_engine(url)
    upgrade(engine)
    sandbox = sandbox_of(issues)
    assert isinstance(sandbox.clock, FakeClock)
    settings = {"transport": sandbox.transport(), "api_url": sandbox.base_url}
    settings.update(token=sandbox.token, http_clock=sandbox.clock)
    subscription = Subscription(
        "linear", "issues", tenant_id="bench-linear", config={"page_size": page_size}
    )
    orchestrator = Orchestrator(engine, sandbox.clock)
    out = []
    try:
        for phase in ("first_sync", "idle_resync"):
            before = sandbox.metrics()
            started, cpu = time.perf_counter(), time.process_time()
            run = orchestrator.run(
                get_stream("linear-issues"), subscription, options=RunOptions(settings=settings)
            )
            wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
            after = sandbox.metrics()
            records = run.created + run.updated + run.deleted + run.noop
            out.append(
                {
                    "dialect": engine.dialect.name,
                    "phase": phase,
                    "status": run.status,
                    "records": records,
                    "api_calls": after["calls"] - before["calls"],
                    "complexity_points": after["complexity_points"] - before["complexity_points"],
                    "ratelimited": after["ratelimited"] - before["ratelimited"],
                    "wall_s": round(wall_s, 2),
                    "records_per_s": round(records / wall_s) if wall_s else None,
                    "cpu_s": round(cpu_s, 2),  # this process: pipeline + in-process sandbox
                    "sandbox_cpu_s": round(after["cpu_s"] - before["cpu_s"], 2),
                    "records_per_pipeline_cpu_s": _rate(
                        records, cpu_s - after["cpu_s"] + before["cpu_s"]
                    ),
                }
            )
            sandbox.advance(60)
    finally:
        engine.dispose()
    return out


def _rate(records: int, seconds: float) -> int | None:
    return round(records / seconds) if seconds > 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--dialects", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        for dialect in args.dialects.split(","):
            url = database_url(dialect.strip(), Path(workdir))
            for row in sync_twice(url, args.issues, args.page_size):
                print(json.dumps({"issues": args.issues, "page_size": args.page_size, **row}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
