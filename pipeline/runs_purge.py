"""`pipeline runs purge --older-than 30d`: retention of the run ledger (DESIGN §9).

Deletes finished runs that ended before the cutoff, with their run items, in small batches (one
short transaction each, so it never holds a long lock next to running syncs). It never deletes
the last run of a subscription (`subscriptions list` and `runs` show it), a `running` run, or a
run whose events a registered outbox consumer has not acknowledged yet.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.consumer_sql import OffsetStore, sql_for
from pipeline.db import write_transaction
from pipeline.durations import parse_duration
from pipeline.errors import ConfigError
from pipeline.http.clock import Clock, SystemClock
from pipeline.tables import event_outbox, run_items, runs

RUN_BATCH = 200
ITEM_BATCH = 5000


@dataclass(frozen=True)
class Purged:
    runs: int
    items: int


def purge_runs(
    engine: Engine, older_than: timedelta, now: datetime, run_batch: int = RUN_BATCH
) -> Purged:
    """Delete what the module docstring allows, batch by batch; how much went."""
    cutoff, total_runs, total_items = now - older_than, 0, 0
    while True:
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(_purgeable(conn, cutoff).limit(run_batch))]
        if not ids:
            return Purged(total_runs, total_items)
        total_items += _delete_items(engine, ids)
        with write_transaction(engine) as conn:
            total_runs += conn.execute(runs.delete().where(runs.c.id.in_(ids))).rowcount


def _purgeable(conn: Connection, cutoff: datetime) -> sa.Select[Any]:
    later = runs.alias("later")
    newer_exists = sa.exists().where(
        later.c.subscription_id == runs.c.subscription_id, later.c.started_at > runs.c.started_at
    )
    query = sa.select(runs.c.id).where(
        runs.c.status != "running", runs.c.completed_at < cutoff, newer_exists
    )
    offsets = OffsetStore().all(conn)
    if offsets:
        oldest = min(o.position for o in offsets)
        unacknowledged = sa.exists().where(
            event_outbox.c.run_id == runs.c.id, sql_for(conn).after(oldest)
        )
        query = query.where(~unacknowledged)
    return query.order_by(runs.c.completed_at)


def _delete_items(engine: Engine, run_ids: list[str]) -> int:
    """The runs' items, `ITEM_BATCH` rows per transaction (a big run has many)."""
    deleted = 0
    while True:
        with write_transaction(engine) as conn:
            chunk = (
                sa.select(run_items.c.id).where(run_items.c.run_id.in_(run_ids)).limit(ITEM_BATCH)
            )
            count = conn.execute(
                run_items.delete().where(run_items.c.id.in_(chunk.scalar_subquery()))
            ).rowcount
        deleted += count
        if count < ITEM_BATCH:
            return deleted


def add_purge_action(runs: argparse.ArgumentParser) -> None:
    """Add `purge` (and `--older-than`) to the `pipeline runs` parser built by `runs_cli.py`;
    every other action still goes to that module's handler."""
    action = next(a for a in runs._actions if a.dest == "action")
    action.choices = [*(action.choices or ()), "purge"]
    runs.add_argument("--older-than", metavar="AGE", help="with purge: runs ended before, e.g. 30d")
    listing = runs.get_default("handler")

    def handler(args: argparse.Namespace, engine: Engine) -> int:
        return handle_purge(args, engine) if args.action == "purge" else int(listing(args, engine))

    runs.set_defaults(handler=handler)


def handle_purge(args: argparse.Namespace, engine: Engine, clock: Clock | None = None) -> int:
    if not args.older_than:
        raise ConfigError("`pipeline runs purge` needs --older-than AGE, e.g. 30d")
    try:
        age = timedelta(seconds=parse_duration(args.older_than))
    except ConfigError as exc:
        raise ConfigError(f"--older-than: {exc}") from None
    purged = purge_runs(engine, age, (clock or SystemClock()).now())
    print(
        f"purged {purged.runs} runs and {purged.items} run items that ended more than "
        f"{args.older_than} ago (kept: each subscription's last run, runs with unacknowledged events)"
    )
    return 0
