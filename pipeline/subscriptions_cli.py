"""`pipeline subscriptions …` (DESIGN §9): manage the subscriptions `pipeline schedule` runs.

    pipeline subscriptions add STREAM [--tenant T] [--name N] [--interval 5m | --schedule CRON]
                               [--set KEY=VALUE …]
    pipeline subscriptions list [--json]
    pipeline subscriptions pause|resume|remove STREAM [--tenant T] [--name N]
    pipeline subscriptions import pipeline.toml

`cli.py` adds the parser with `add_subscriptions_parser` and calls `handle_subscriptions`.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import load_config
from pipeline.db import as_utc
from pipeline.durations import parse_duration
from pipeline.errors import ConfigError
from pipeline.http.clock import Clock, SystemClock
from pipeline.registry import get_connector, get_stream
from pipeline.subscription_store import (
    SubscriptionStore,
    Trigger,
    label,
    validated_subscription,
)
from pipeline.subscriptions import DEFAULT_TENANT
from pipeline.tables import leases, runs, subscriptions
from pipeline.triggers import check_cron

NOT_RETRIED = "not retried: "


def add_subscriptions_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add `subscriptions` and its actions to the `pipeline` parser."""
    parser = subparsers.add_parser("subscriptions", help="manage scheduled subscriptions")
    sub = parser.add_subparsers(
        dest="subscriptions_command", required=True, metavar="ACTION", help="what to do"
    )
    add = sub.add_parser("add", help="add a subscription (due at once)")
    _target(add)
    when = add.add_mutually_exclusive_group()
    when.add_argument("--interval", help="run every DURATION, e.g. 30s, 5m, 12h (default 5m)")
    when.add_argument("--schedule", metavar="CRON", help="5-field cron, in UTC")
    add.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config key")
    listing = sub.add_parser("list", help="every subscription: status, last and next run")
    listing.add_argument("--json", action="store_true", help="one JSON array")
    pause = sub.add_parser("pause", help="stop scheduling a subscription")
    _target(pause)
    pause.add_argument("--reason", default="paused by operator", help="shown by `list`")
    for action in ("resume", "remove"):
        _target(sub.add_parser(action, help=f"{action} a subscription"))
    imported = sub.add_parser("import", help="add or update the subscriptions of a pipeline.toml")
    imported.add_argument("path", type=Path, help="the TOML file to import")


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stream", help="a stream name (see `pipeline connectors`)")
    parser.add_argument("--tenant", default=DEFAULT_TENANT, help="the tenant (default: default)")
    parser.add_argument("--name", default="default", help="the subscription's name in its tenant")


def handle_subscriptions(
    args: argparse.Namespace, engine: Engine, clock: Clock | None = None
) -> int:
    """Run one `subscriptions` action; bad input raises `ConfigError`."""
    clock = clock or SystemClock()
    store = SubscriptionStore(engine)
    action = args.subscriptions_command
    if action == "add":
        return add(store, args, clock.now())
    if action == "list":
        return show(engine, clock.now(), as_json=args.json)
    if action == "import":
        return import_file(store, args.path, clock.now())
    row = store.find(get_stream(args.stream).full_name, args.tenant, args.name)
    name = f"{args.stream}/{args.tenant}/{args.name}"
    if action == "pause":
        store.pause(row["id"], args.reason, clock.now())
    elif action == "resume":
        store.resume(row["id"], clock.now())
    else:
        store.remove(row["id"], clock.now())
    print(f"{name}: {action.removesuffix('e')}ed")
    return 0


def add(store: SubscriptionStore, args: argparse.Namespace, now: datetime) -> int:
    from pipeline.commands import parse_settings  # the same `--set` parsing as `pipeline run`

    stream = get_stream(args.stream)
    settings = parse_settings(args.set, get_connector(stream.connector).config)
    sub = validated_subscription(stream.full_name, args.tenant, args.name, settings)
    trigger = trigger_from(args.interval, args.schedule)
    store.add(sub, trigger, now)
    print(f"{label(sub)}: added, {trigger.describe()}, due now")
    return 0


def trigger_from(interval: str | None, schedule: str | None) -> Trigger:
    if schedule:
        return Trigger(None, check_cron(schedule))
    if interval is None:
        return Trigger()
    try:
        seconds = parse_duration(interval)
    except ConfigError as exc:
        raise ConfigError(f"--interval: {exc}") from None
    if seconds <= 0:
        raise ConfigError("--interval: must be longer than 0s")
    return Trigger(seconds)


def import_file(store: SubscriptionStore, path: Path, now: datetime) -> int:
    config = load_config(path)
    if config is None:  # load_config only returns None without a path
        raise ConfigError(f"{path}: no such file")
    added, changed = store.import_config(config, now)
    unchanged = len(config.subscriptions) - added - changed
    print(f"{path}: {added} added, {changed} changed, {unchanged} unchanged")
    return 0


def listing(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """Each subscription with its trigger, state, last run, next run, attempt and lag (seconds
    it has been due without starting)."""
    last = (
        sa.select(runs.c.status, runs.c.started_at)
        .where(runs.c.subscription_id == subscriptions.c.id)
        .order_by(runs.c.started_at.desc())
        .limit(1)
    )
    running = sa.exists().where(
        leases.c.subscription_id == subscriptions.c.id,
        leases.c.owner.is_not(None),
        leases.c.leased_until > now,
    )
    query = sa.select(
        subscriptions,
        last.with_only_columns(runs.c.status).scalar_subquery().label("last_status"),
        last.with_only_columns(runs.c.started_at).scalar_subquery().label("last_run_at"),
        running.label("running"),
    ).order_by(
        subscriptions.c.tenant_id,
        subscriptions.c.connector,
        subscriptions.c.stream,
        subscriptions.c.name,
    )
    with engine.connect() as conn:
        return [_entry(dict(row), now) for row in conn.execute(query).mappings()]


def _entry(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    next_run, last_run = as_utc(row["next_run_at"]), as_utc(row["last_run_at"])
    lag = (
        (now - next_run).total_seconds()
        if next_run and next_run < now and not row["running"]
        else 0.0
    )
    return {
        "id": row["id"],
        "subscription": f"{row['connector']}-{row['stream']}/{row['tenant_id']}/{row['name']}",
        "status": _status(row),
        "trigger": Trigger(row["interval_s"], row["schedule"]).describe(),
        "last_status": row["last_status"],
        "last_run_at": last_run.isoformat() if last_run else None,
        "next_run_at": next_run.isoformat() if next_run and row["enabled"] else None,
        "attempt": row["attempt"],
        "lag_s": round(lag, 3),
        "error": row["paused_reason"] if not row["enabled"] else row["last_error"],
    }


def _status(row: dict[str, Any]) -> str:
    if not row["enabled"]:
        return "paused"
    if row["running"]:
        return "running"
    if row["last_error"] and row["last_error"].startswith(NOT_RETRIED):
        return "failing"
    if row["attempt"]:
        return "retrying"
    return "scheduled" if row["next_run_at"] else "unscheduled"


def show(engine: Engine, now: datetime, as_json: bool = False) -> int:
    entries = listing(engine, now)
    if as_json:
        print(json.dumps(entries, indent=2))
        return 0
    print(
        f"{'subscription':<40} {'status':<10} {'trigger':<16} {'last run':<22} {'next run':<20} "
        f"{'attempt':>7} {'lag':>7}  error"
    )
    for e in entries:
        last = f"{e['last_status']} {_short(e['last_run_at'])}" if e["last_status"] else "never"
        print(
            f"{e['subscription']:<40} {e['status']:<10} {e['trigger']:<16} {last:<22} "
            f"{_short(e['next_run_at']) or '-':<20} {e['attempt']:>7} {e['lag_s']:>6.0f}s  "
            f"{e['error'] or ''}"
        )
    return 0


def _short(iso: str | None) -> str:
    return iso[5:19].replace("T", " ") if iso else ""
