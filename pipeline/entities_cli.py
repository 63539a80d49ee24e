"""`pipeline entities`: look at the synced data (the entity tables of DESIGN §5) and its history.

    pipeline entities STREAM [--tenant T] [--where FIELD=VALUE]… [--deleted] [--limit N] [--json]
    pipeline entities show STREAM EXTERNAL_ID [--tenant T] [--json]

`show` prints the stored record, then every change the runs made to it (from the run items):
when, which run, the operation and each field from → to. Built on `pipeline.read`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy.engine import Engine

from pipeline import read
from pipeline.cli_types import positive_int
from pipeline.errors import ConfigError
from pipeline.show import change_lines, json_line, short, when


def add_entities_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `entities` to the `pipeline` parser."""
    entities = sub.add_parser(
        "entities",
        help="list a stream's synced records, or show one with its history",
        description="pipeline entities STREAM [filters] | pipeline entities show STREAM EXTERNAL_ID",
    )
    entities.add_argument(
        "target",
        nargs="+",
        metavar="STREAM | show STREAM EXTERNAL_ID",
        help="a stream (e.g. acme-tickets), or `show`, the stream and an external id",
    )
    entities.add_argument("--tenant", metavar="T", help="only this tenant's records")
    entities.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="only records whose FIELD equals VALUE (repeatable)",
    )
    entities.add_argument(
        "--deleted", action="store_true", help="list tombstoned records instead of live ones"
    )
    entities.add_argument(
        "--limit",
        "-n",
        type=positive_int,
        default=20,
        metavar="N",
        help="at most N records (default 20)",
    )
    entities.add_argument("--json", action="store_true", help="one JSON object per line")
    entities.set_defaults(handler=handle_entities)


def handle_entities(args: argparse.Namespace, engine: Engine) -> int:
    target = args.target
    if target[0] == "show":
        if len(target) != 3:
            raise ConfigError("usage: pipeline entities show STREAM EXTERNAL_ID")
        return show_entity(args, engine, target[1], target[2])
    if len(target) != 1:
        raise ConfigError(
            f"unexpected {' '.join(target[1:])!r}: pipeline entities STREAM [--where FIELD=VALUE]"
        )
    rows = read.entities(
        engine,
        target[0],
        tenant=args.tenant,
        where=_where(args.where),
        deleted=args.deleted,
        limit=args.limit,
    )
    if args.json:
        for row in rows:
            print(json_line(row))
        return 0
    for row in rows:
        print(entity_line(row))
    if not rows:
        print(
            f"no {'deleted' if args.deleted else 'live'} {target[0]} records"
            + (" match" if args.where or args.tenant else " yet")
        )
    return 0


def entity_line(row: dict[str, Any]) -> str:
    """updated, tenant, external id, then the typed columns that are set (what people query)."""
    typed = [
        f"{k}={short(v, 40)}"
        for k, v in row.items()
        if k not in read.FIXED_COLUMNS and v is not None
    ]
    gone = (
        f"  deleted {when(row['deleted_at'])} ({row['delete_reason']})" if row["deleted_at"] else ""
    )
    return f"{when(row['updated_at'])}  {row['tenant_id']:<10} {row['external_id']:<28} {' '.join(typed)}{gone}"


def show_entity(args: argparse.Namespace, engine: Engine, stream: str, external_id: str) -> int:
    row = read.entity(engine, stream, external_id, args.tenant)
    if row is None:
        raise ConfigError(f"no {stream} record {external_id!r} (see `pipeline entities {stream}`)")
    changes = read.history(engine, stream, external_id, row["tenant_id"])
    if args.json:
        print(json_line({**row, "history": changes}))
        return 0
    for line in record_lines(row):
        print(line)
    print()
    print(
        "history (oldest first):"
        if changes
        else "history: no run items (synced before the ledger kept them?)"
    )
    for change in changes:
        for line in history_lines(change):
            print(line)
    return 0


def record_lines(row: dict[str, Any]) -> list[str]:
    lines = [
        f"{row['external_id']}  (tenant {row['tenant_id']}, entity id {row['id']}, version {row['version']})",
        f"created {when(row['created_at'])} UTC · updated {when(row['updated_at'])} UTC",
    ]
    if row["deleted_at"]:
        lines.append(f"deleted {when(row['deleted_at'])} UTC ({row['delete_reason']})")
    return [*lines, "", json.dumps(row["data"], indent=2, sort_keys=True, default=str)]


def history_lines(change: dict[str, Any]) -> list[str]:
    head = f"{when(change['at'])}  {change['operation']:<8} run {change['run_id']}"
    if change["status"] == "failed":
        return [f"{head}  FAILED: {change['error']}"]
    fields = change["changed_fields"] or {}
    if change["operation"] in ("created", "deleted"):
        return [head]
    return [head] + [f"    {line}" for line in change_lines(fields)]


def _where(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(
                f"--where {pair!r}: write FIELD=VALUE, e.g. --where channel=C024BE91L"
            )
        found[name.strip()] = value
    return found
