"""`pipeline events …` (DESIGN §5 "Commands"): tail the outbox, show consumers and lag, purge.

    pipeline events tail [--follow] [--consumer NAME] [--type T]… [--tenant T] [--json] [-n N]
    pipeline events consumers [--json]
    pipeline events purge --older-than 7d

`cli.py` adds the parser with `add_events_parser` and calls `handle_events`; bad input raises
`ConfigError` with a one-line message.

`tail` without `--consumer` prints the latest events (and with `--follow` goes on from there);
with `--consumer` it prints that consumer's unread events and acknowledges what it printed, so
the next `tail --consumer` continues after them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from contextlib import closing
from itertools import islice
from typing import Any

from sqlalchemy.engine import Engine

from pipeline.consumer import (
    Event,
    EventFilter,
    Lag,
    OutboxConsumer,
    OutboxReader,
    consumer_lags,
    describe_filters,
    purge,
)
from pipeline.consumer_sql import OffsetStore
from pipeline.durations import duration
from pipeline.errors import ConfigError
from pipeline.http.clock import Clock, SystemClock

DEFAULT_TAIL = 20
Printer = Callable[[Event], None]
_EVENT_TYPE = re.compile(r"^[a-z0-9_]+_(created|edited|deleted)$")


def add_events_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add `events` and its sub-commands to the `pipeline` parser."""
    events: argparse.ArgumentParser = subparsers.add_parser("events", help="read the event outbox")
    sub = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    tail = sub.add_parser("tail", help="print events (the latest, or a consumer's unread ones)")
    tail.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing events as they commit (Ctrl-C stops)",
    )
    tail.add_argument("--consumer", help="read as this consumer from its position, and acknowledge")
    tail.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        metavar="TYPE",
        help="only this event type, e.g. message_created (repeatable)",
    )
    tail.add_argument("--tenant", help="only this tenant's events")
    tail.add_argument("--json", action="store_true", help="one JSON object per line, whole events")
    tail.add_argument(
        "--limit",
        "-n",
        type=int,
        metavar="N",
        help="with --consumer: stop after N events; without: print the latest N "
        f"(default {DEFAULT_TAIL}), then --follow goes on",
    )
    consumers = sub.add_parser("consumers", help="registered consumers: position and lag")
    consumers.add_argument("--json", action="store_true", help="one JSON object per line")
    purge_ = sub.add_parser("purge", help="delete old events every consumer has acknowledged")
    purge_.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30m, 12h, 7d")
    return events


def handle_events(args: argparse.Namespace, engine: Engine, *, clock: Clock | None = None) -> int:
    """Run one `events` sub-command; returns the exit code."""
    clock = clock or SystemClock()
    if args.events_command == "tail":
        return tail(args, engine, clock)
    if args.events_command == "consumers":
        return show_consumers(args, engine, clock)
    removed = purge(engine, duration(args.older_than), now=clock.now())
    print(f"purged {removed} event{'' if removed == 1 else 's'} older than {args.older_than}")
    return 0


def tail(args: argparse.Namespace, engine: Engine, clock: Clock) -> int:
    """Print events; as a consumer, acknowledge each batch once it is printed (at-least-once)."""
    limit = _check(args)
    printer = _printer(args.json)
    try:
        if args.consumer:
            _tail_consumer(args, engine, clock, limit, printer)
        else:
            _tail_latest(args, engine, clock, limit, printer)
    except KeyboardInterrupt:  # Ctrl-C ends --follow; everything printed was acknowledged
        pass
    except BrokenPipeError:  # `… | head`: the unprinted rest stays unacknowledged
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
    return 0


def _tail_latest(
    args: argparse.Namespace, engine: Engine, clock: Clock, limit: int | None, printer: Printer
) -> None:
    reader = OutboxReader(engine, EventFilter.of(args.types, None, args.tenant), typed=False)
    for event in reader.latest(limit or DEFAULT_TAIL):
        printer(event)
    if args.follow:
        with closing(reader.follow(clock=clock)) as events:
            for event in events:
                printer(event)


def _tail_consumer(
    args: argparse.Namespace, engine: Engine, clock: Clock, limit: int | None, printer: Printer
) -> None:
    consumer = OutboxConsumer(
        engine, args.consumer, typed=False, clock=clock, **_consumer_filters(args, engine)
    )
    if args.follow:
        with closing(consumer.follow(ack=True, clock=clock)) as events:
            _print_acked(consumer, islice(events, limit), printer)
        return
    while limit is None or limit > 0:
        wanted = min(limit or consumer.batch_size, consumer.batch_size)
        batch = consumer.read(wanted)
        for event in batch:
            printer(event)
        consumer.ack()
        if len(batch) < wanted:
            return
        limit = None if limit is None else limit - len(batch)


def _print_acked(consumer: OutboxConsumer, events: Iterable[Event], printer: Printer) -> None:
    """Print events; the follow iterator acknowledges whole batches, this the last one printed."""
    last = None
    try:
        for event in events:
            printer(event)
            last = event
    finally:
        if last is not None:
            consumer.ack(last)


def _consumer_filters(args: argparse.Namespace, engine: Engine) -> dict[str, Any]:
    """Given filters, or (when none are given) the ones the consumer was registered with."""
    if args.types or args.tenant:
        return {"types": args.types, "tenant_id": args.tenant}
    with engine.connect() as conn:
        offset = OffsetStore().load(conn, args.consumer)
    stored = EventFilter.from_json(offset.filters if offset else {})
    return {
        "types": stored.types,
        "aggregatetype": stored.aggregatetype,
        "tenant_id": stored.tenant_id,
    }


def _check(args: argparse.Namespace) -> int | None:
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    for type_ in args.types:
        if not _EVENT_TYPE.match(type_):
            raise ConfigError(
                f"bad event type {type_!r}: use <entity>_created, <entity>_edited "
                "or <entity>_deleted"
            )
    return args.limit  # type: ignore[no-any-return]


def _printer(as_json: bool) -> Printer:
    def emit(event: Event) -> None:
        line = json.dumps(event.to_json(), sort_keys=True) if as_json else format_event(event)
        print(line, flush=True)  # flushed before it is acknowledged

    return emit


def format_event(event: Event) -> str:
    """One compact human line: id, time, tenant, type, entity, external id, changed fields."""
    payload = event.to_json()["payload"]
    fields = ",".join(sorted(payload.get("changedFields") or {}))
    when = event.occurred_at.strftime("%Y-%m-%d %H:%M:%SZ")
    line = (
        f"{event.id:>6}  {when}  {event.tenant_id}  {event.type}  "
        f"{event.aggregatetype}/{event.aggregateid}  {payload.get('externalId', '')}"
    )
    return f"{line}  [{fields}]" if fields else line


def show_consumers(args: argparse.Namespace, engine: Engine, clock: Clock) -> int:
    """Print each registered consumer's position, unread count and oldest unread age."""
    lags = consumer_lags(engine, clock.now())
    if args.json:
        for lag in lags:
            print(json.dumps(_lag_json(lag), sort_keys=True))
        return 0
    if not lags:
        print("no consumers registered")
        return 0
    rows = [("CONSUMER", "POSITION", "UNREAD", "OLDEST UNREAD", "FILTERS")] + [
        (
            lag.consumer,
            str(lag.position),
            str(lag.unread),
            format_age(lag.oldest_unread_age_s),
            describe_filters(lag.filters) if lag.filters else "-",
        )
        for lag in lags
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def _lag_json(lag: Lag) -> dict[str, Any]:
    return {
        "consumer": lag.consumer,
        "last_txid": lag.position.txid,
        "last_id": lag.position.id,
        "unread": lag.unread,
        "oldest_unread_age_s": lag.oldest_unread_age_s,
        "filters": lag.filters,
        "updated_at": lag.updated_at.isoformat() if lag.updated_at else None,
    }


def format_age(seconds: float | None) -> str:
    """`-` when nothing is unread, else the largest whole unit: 42s, 5m, 3h, 2d."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
