"""`pipeline runs` (DESIGN §5 "Commands"): the run ledger, filtered, and one run with its items.

    pipeline runs [--status S] [--stream S] [--tenant T] [--since 1h] [--limit N] [--json]
    pipeline runs show RUN_ID [--limit N] [--json]

Without filters and with a `pipeline.toml`, the list starts with each configured subscription's
last status and next run. `show` prints the run, then its items, failed ones first, with errors
and the fields each changed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from pipeline import read
from pipeline.cli_types import duration_s, positive_int
from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.show import change_lines, json_line, seconds, short, when
from pipeline.tables import RUN_STATUSES

LIST_HEADER = (
    f"{'started':<19} {'stream':<16} {'tenant':<10} {'status':<11} "
    f"{'+':>6} {'~':>6} {'-':>6} {'=':>7} {'!':>4} {'took':>7}  run"
)
DEFAULT_ITEMS = 50


def add_runs_parser(sub: argparse._SubParsersAction, _: Callable[..., Any] | None = None) -> None:  # type: ignore[type-arg]
    """Add `runs [list|show]` to the `pipeline` parser."""
    runs = sub.add_parser("runs", help="the run ledger: list runs, or show one with its items")
    runs.add_argument(
        "action", nargs="?", choices=["list", "show"], default="list", help="list (default) or show"
    )
    runs.add_argument("run_id", nargs="?", help="with show: the run's id (or a unique prefix)")
    runs.add_argument(
        "--status",
        choices=RUN_STATUSES,
        metavar="S",
        help=f"only runs that ended S ({', '.join(RUN_STATUSES)})",
    )
    runs.add_argument("--stream", metavar="S", help="only this stream, e.g. acme-tickets")
    runs.add_argument("--tenant", metavar="T", help="only this tenant's runs")
    runs.add_argument(
        "--since",
        type=duration_s,
        metavar="AGE",
        help="only runs started in the last AGE, e.g. 30m, 1h, 7d",
    )
    runs.add_argument(
        "--limit",
        "-n",
        type=positive_int,
        metavar="N",
        help="at most N runs (default 20), or N items with show (default 50)",
    )
    runs.add_argument("--json", action="store_true", help="one JSON object per line")
    runs.set_defaults(handler=handle_runs)


def handle_runs(args: argparse.Namespace, engine: Engine) -> int:
    if args.action == "show":
        return show_run(args, engine)
    rows = read.runs(
        engine,
        status=args.status,
        stream=args.stream,
        tenant=args.tenant,
        since=_age(args.since),
        limit=args.limit or 20,
    )
    if args.json:
        for row in rows:
            print(json_line(row))
        return 0
    if not _filtered(args):
        _print_subscriptions(engine)
    print(LIST_HEADER)
    for r in rows:
        print(list_line(r))
    if not rows:
        print("no runs" + (" match these filters" if _filtered(args) else " yet"))
    return 0


def list_line(r: dict[str, Any]) -> str:
    return (
        f"{when(r['started_at']):<19} {r['stream']:<16} {r['tenant_id'][:10]:<10} "
        f"{r['status']:<11} {r['created']:>6} {r['updated']:>6} {r['deleted']:>6} "
        f"{r['noop']:>7} {r['failed']:>4} {seconds(r['duration_ms']):>7}  {r['id']}"
    )


def show_run(args: argparse.Namespace, engine: Engine) -> int:
    if not args.run_id:
        raise ConfigError("`pipeline runs show` needs a RUN_ID (see `pipeline runs`)")
    row = read.run(engine, args.run_id)
    if row is None:
        raise ConfigError(f"no run {args.run_id!r} (see `pipeline runs`)")
    limit = args.limit or DEFAULT_ITEMS
    items = read.items(engine, row["id"], limit=limit + 1)
    if args.json:
        print(json_line({**row, "items": items[:limit]}))
        return 0
    for line in run_lines(row):
        print(line)
    print()
    print(
        f"items ({row['failed']} failed first):"
        if items
        else "no items (nothing created, edited, deleted or failed)"
    )
    for item in items[:limit]:
        for line in item_lines(item):
            print(line)
    if len(items) > limit:
        print(f"… more items: show them with --limit {limit * 10}")
    print_deliveries(engine, row["id"])
    return 0


def print_deliveries(engine: Engine, run_id: str) -> None:
    """A webhook run: the inbox deliveries it applied, failed ones first, with their errors."""
    from pipeline.webhooks.inbox import deliveries_of_run

    deliveries = deliveries_of_run(engine, run_id)
    if deliveries:
        print()
        print(f"webhook deliveries ({len(deliveries)}):")
    for d in deliveries:
        error = f"  {d['error']}" if d["error"] else ""
        print(f"  delivery {d['connector']} {d['delivery_id']} {d['status']}{error}")


def run_lines(r: dict[str, Any]) -> list[str]:
    """The run row, a field per line."""
    lines = [
        f"run        {r['id']}",
        f"stream     {r['stream']} (tenant {r['tenant_id']})",
        f"status     {r['status']}",
    ]
    if r["error"]:
        lines.append(f"error      {r['error']}")
    return [
        *lines,
        f"started    {when(r['started_at'])} UTC, took {seconds(r['duration_ms'])}",
        f"records    found {r['records_found']} · created {r['created']} · edited {r['updated']} · "
        f"deleted {r['deleted']} · unchanged {r['noop']} · failed {r['failed']}",
        f"vendor     {r['pages']} pages · {r['api_calls']} API calls · "
        f"{r['rate_limited']} rate-limited · {r['retries']} retries",
        f"checkpoint {short(r['checkpoint_before'], 80)} → {short(r['checkpoint_after'], 80)}",
    ]


def item_lines(item: dict[str, Any]) -> list[str]:
    """One item: status, operation, external id, then its error or its changed fields."""
    head = f"  {item['status']:<7} {item['operation']:<8} {item['external_id']}"
    if item["error"]:
        return [head, f"      error: {item['error']}"]
    fields = item["changed_fields"] or {}
    if item["operation"] == "created":
        return [f"{head}  ({len(fields)} fields)"]
    return [head] + [f"      {line}" for line in change_lines(fields)]


def _print_subscriptions(engine: Engine) -> None:
    """Per configured subscription: the last run's status and counters, and the next fire time."""
    config = load_config()
    if not config or not config.subscriptions:
        return
    from pipeline.scheduler import next_run_times

    upcoming = next_run_times(config, datetime.now(UTC))
    print(
        f"{'subscription':<36} {'last status':<11} {'+':>6} {'~':>6} {'-':>6} {'!':>4}  next run (UTC)"
    )
    for declared in config.subscriptions:
        sub = declared.subscription()
        row = read.last_run(engine, sub.id)
        counts = (
            (row["status"], row["created"], row["updated"], row["deleted"], row["failed"])
            if row
            else ("never", 0, 0, 0, 0)
        )
        nxt = upcoming.get(sub.id)
        label = f"{declared.stream}/{declared.tenant}/{declared.name}"
        print(
            f"{label:<36} {counts[0]:<11} {counts[1]:>6} {counts[2]:>6} {counts[3]:>6} "
            f"{counts[4]:>4}  {when(nxt) if nxt else 'disabled'}"
        )
    print()


def _filtered(args: argparse.Namespace) -> bool:
    return any((args.status, args.stream, args.tenant, args.since))


def _age(since_s: float | None) -> timedelta | None:
    return None if since_s is None else timedelta(seconds=since_s)
