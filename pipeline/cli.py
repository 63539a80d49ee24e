"""The `pipeline` command: parse → call → map a PipelineError to one line and an exit code.

Exit codes: 0 success / no_changes / throttled / skipped; 1 failed or lost_lease; 2 bad input;
3 partial (some records failed, or the deletion guard tripped).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError

from pipeline import commands
from pipeline.errors import ConfigError, PipelineError, redact

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipeline", description="Integration sync pipeline.")
    parser.add_argument(
        "--db", help="SQLAlchemy URL (default: $PIPELINE_DATABASE_URL or sqlite:///pipeline.db)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one stream now")
    run.add_argument("stream", help="<connector>-<stream> (see `pipeline connectors`)")
    run.add_argument(
        "--sandbox", action="store_true", help="run against the seeded in-process sandbox"
    )
    run.add_argument("--tenant", help="tenant of the subscription (default: default)")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="forget the checkpoint and walk everything (deletions are detected)",
    )
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="subscription config for this run (repeatable; lists as a,b or JSON)",
    )

    runs = sub.add_parser("runs", help="the run ledger")
    runs.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    runs.add_argument("run_id", nargs="?")
    runs.add_argument("--limit", type=int, default=20)

    state = sub.add_parser("state", help="show or reset a stream's checkpoint")
    state.add_argument("action", choices=["show", "reset"])
    state.add_argument("stream")
    state.add_argument("--tenant")

    sub.add_parser("schedule", help="run the configured subscriptions on their schedules")
    migrate = sub.add_parser("migrate", help="apply the database migrations")
    migrate.add_argument(
        "--generate",
        metavar="CONNECTOR",
        help="write the connector's next migration from its declared tables (no hand-written DDL)",
    )
    migrate.add_argument(
        "-m", "--message", default="entity tables", help="the new revision's title"
    )
    sub.add_parser("connectors", help="list connectors and streams")

    sandbox = sub.add_parser("sandbox", help="serve a vendor sandbox over HTTP")
    sandbox.add_argument("connector", help="a connector name (see `pipeline connectors`)")
    sandbox.add_argument("--port", type=int, default=8099, help="port to listen on (0: any)")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument(
        "--seed", type=int, help="seed of the generated data (default: --sandbox's)"
    )
    sandbox.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="sandbox option, e.g. regime=tier3"
    )

    _add_optional(sub)
    for command in (
        sub.choices.values()
    ):  # `pipeline migrate --db URL` works as well as `pipeline --db URL migrate`
        command.add_argument(
            "--db", dest="command_db", help="SQLAlchemy URL (overrides the one before the command)"
        )
    return parser


def _add_optional(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Sub-commands that live in their own modules."""
    try:
        from pipeline.events_cli import add_events_parser
    except ImportError:
        return
    add_events_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "command_db", None):
        args.db = args.command_db
    try:
        return commands.dispatch(args)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except PipelineError as exc:
        return _fail(str(exc), 1)
    except OperationalError as exc:
        return _fail(f"database error: {exc.orig}".splitlines()[0], 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    print(f"error: {redact(message)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
