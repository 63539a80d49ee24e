"""GitHub connector benchmark: API calls and records/s against the seeded GitHub sandbox.

    python -m bench.github_sync [--issues 10000] [--comments 2] [--db sqlite,postgres]

For each database: a fresh schema, one repo with `--issues` issues and pull requests (and up to
`--comments` comments each), then the real `github-issues` and `github-comments` streams through
the real Orchestrator over the in-process sandbox (its rate windows on a simulated clock, so
nothing sleeps; every API call is still made and counted by the sandbox):

- first sync: a full listing of both streams; calls vs the minimum (⌈records / 100⌉ pages);
- re-sync: right after, incremental from the high water (the boundary items come back);
- idle re-sync: once more with nothing changed (answered by 304 where the ETag is known).

Not a test: it prints one JSON line per database and a short table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.databases import pg_url, reset, sqlite_url
from connectors.github.sandbox import DEFAULT_NOW, Sandbox
from pipeline.db import create_engine
from pipeline.http.clock import FakeClock, SystemClock
from pipeline.migrate import upgrade
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription

REPO = "bench-org/big"
STREAMS = ("github-issues", "github-comments")


def one_sync(orchestrator: Orchestrator, sandbox: Sandbox, clock: FakeClock) -> dict[str, Any]:
    """Both streams once; calls as the sandbox counted them, records and seconds as we saw them."""
    before = len(sandbox.app.journal)
    settings = {
        "transport": sandbox.transport(),
        "api_url": sandbox.base_url,
        "token": sandbox.token,
        "http_clock": clock,
    }
    out: dict[str, Any] = {"records": 0, "seconds": 0.0, "statuses": []}
    for name in STREAMS:
        connector, stream = name.split("-", 1)
        sub = Subscription(connector, stream, tenant_id="bench-github", config={"repos": [REPO]})
        started = time.perf_counter()
        run = orchestrator.run(get_stream(name), sub, options=RunOptions(settings=settings))
        out["seconds"] += time.perf_counter() - started
        out["records"] += run.counts["records_found"]
        out["statuses"].append(run.status)
    journal = list(sandbox.app.journal)[before:]
    out["calls"] = len(journal)
    out["not_modified"] = sum(r["status"] == 304 for r in journal)
    out["records_per_s"] = round(out["records"] / out["seconds"]) if out["seconds"] else None
    out["seconds"] = round(out["seconds"], 2)
    return out


def bench(url: str, issues: int, comments: int) -> dict[str, Any]:
    reset(url)
    engine = create_engine(url)
    upgrade(engine)
    clock = FakeClock(datetime.fromtimestamp(DEFAULT_NOW, UTC))
    sandbox = Sandbox(7, clock, repos=(), issues_per_repo=0)
    sandbox.app.journal = type(sandbox.app.journal)(maxlen=None)  # count every call
    sandbox.bulk_seed(REPO, issues, max_comments=comments)
    total_comments = len(sandbox.comments(REPO))
    orchestrator = Orchestrator(engine, SystemClock())
    try:
        first = one_sync(orchestrator, sandbox, clock)
        resync = one_sync(orchestrator, sandbox, clock)
        idle = one_sync(orchestrator, sandbox, clock)
    finally:
        engine.dispose()
    minimum = -(-issues // 100) + -(-total_comments // 100)
    return {
        "db": engine.dialect.name,
        "issues": issues,
        "comments": total_comments,
        "first_sync": {
            **first,
            "minimum_calls": minimum,
            "calls_over_minimum": round(first["calls"] / minimum, 4),
        },
        "resync": resync,
        "idle_resync": idle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--comments", type=int, default=2, help="max comments per issue")
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        urls = {"sqlite": sqlite_url(Path(workdir), "github"), "postgres": pg_url()}
        for name in args.db.split(","):
            result = bench(urls[name], args.issues, args.comments)
            print(json.dumps(result))
            first, idle = result["first_sync"], result["idle_resync"]
            print(
                f"{name}: first sync {first['records']} records, {first['calls']} calls "
                f"(minimum {first['minimum_calls']}, ×{first['calls_over_minimum']}), "
                f"{first['records_per_s']} records/s; re-sync {result['resync']['calls']} calls; "
                f"idle re-sync {idle['calls']} calls ({idle['not_modified']} × 304)"
            )


if __name__ == "__main__":
    main()
