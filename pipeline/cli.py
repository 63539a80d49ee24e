"""The `pipeline` command: parse → call → map any error to one line and an exit code.

Exit codes (DESIGN §5): 0 success / no_changes / throttled / skipped; 1 failed or lost_lease, or
an environment fault (unreachable database, read-only file, busy port); 2 bad input (a bad
argument, URL, password or config; a file that is not a database; no database for a read
command); 3 partial; 130 stopped by Ctrl-C. `pipeline/failures.py` holds the mapping; the
traceback is printed only with `-v`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from pipeline import commands
from pipeline.cli_types import OneLineParser, port_number, positive_int
from pipeline.db import database_url
from pipeline.errors import redact
from pipeline.failures import Failure, explain

DB_HELP = "SQLAlchemy URL (default: $PIPELINE_DATABASE_URL or sqlite:///pipeline.db)"
QUIET_LOGGERS = ("httpx", "httpcore", "pipeline.http", "apscheduler")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="pipeline", description="Integration sync pipeline.")
    parser.add_argument("--version", action="version", version=f"pipeline {_version()}")
    parser.add_argument("--db", metavar="URL", help=DB_HELP)
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: progress logs and tracebacks; -vv: also HTTP debug",
    )
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
    run.add_argument(
        "--json", action="store_true", help="print the finished run row as JSON; plain progress"
    )
    run.add_argument(
        "--enqueue",
        action="store_true",
        help="make the subscription due now for `pipeline schedule`",
    )
    run.add_argument("--name", default="default", help="subscription name (with --enqueue)")

    state = sub.add_parser("state", help="show or reset a stream's checkpoint")
    state.add_argument("action", choices=["show", "reset"], help="show or reset")
    state.add_argument("stream", help="<connector>-<stream>")
    state.add_argument("--tenant", help="tenant of the subscription (default: default)")

    schedule = sub.add_parser("schedule", help="run due subscriptions (any number of processes)")
    schedule.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    serve = sub.add_parser("serve", help="receive vendor webhooks (also /healthz, /metrics)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (0: any)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--no-apply", action="store_true", help="only store deliveries; other serves apply them"
    )
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
    sandbox.add_argument(
        "--port", type=port_number, default=8099, help="port to listen on (0: any)"
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument(
        "--seed", type=int, help="seed of the generated data (default: --sandbox's)"
    )
    sandbox.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="sandbox option, e.g. regime=tier3"
    )
    sandbox.add_argument(
        "--webhook-url", help="send the changes made through the sandbox here as signed webhooks"
    )

    _add_optional(sub)
    for command in sub.choices.values():  # `pipeline migrate --db URL` works as well
        command.add_argument("--db", dest="command_db", metavar="URL", help=DB_HELP)
        command.add_argument(
            "-v",
            "--verbose",
            dest="command_verbose",
            action="count",
            default=0,
            help="-v: progress logs and tracebacks; -vv: also HTTP debug",
        )
    return parser


def _add_optional(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Sub-commands that live in their own modules."""
    from pipeline.entities_cli import add_entities_parser
    from pipeline.events_cli import add_events_parser
    from pipeline.runs_cli import add_runs_parser

    add_runs_parser(sub, positive_int)
    add_events_parser(sub)
    add_entities_parser(sub)
    from pipeline.runs_purge import add_purge_action
    from pipeline.subscriptions_cli import add_subscriptions_parser

    add_subscriptions_parser(sub)
    add_purge_action(sub.choices["runs"])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbosity = args.verbose + getattr(args, "command_verbose", 0)
    restore = configure_logging(verbosity, args.command)
    if getattr(args, "command_db", None):
        args.db = args.command_db
    try:
        code = commands.dispatch(args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler
        return code
    except BrokenPipeError:  # `pipeline runs | head`: the reader has all it wanted
        _silence_stdout()
        return 0
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001  (the one place errors end)
        if verbosity:
            traceback.print_exc()
        return _fail(explain(exc, database_url(args.db), getattr(args, "port", None)))
    finally:
        restore()  # `main()` is also called in-process (tests, embedding): leave levels as found


def configure_logging(verbosity: int, command: str) -> Callable[[], None]:
    """Warnings by default (and one INFO line per run for `schedule`); -v INFO; -vv DEBUG.

    Returns a function that puts every logger level it changed back."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet = logging.DEBUG if verbosity >= 2 else logging.WARNING
    levels = {"": level, **dict.fromkeys(QUIET_LOGGERS, quiet)}
    if command == "schedule":
        levels["pipeline.schedule"] = min(level, logging.INFO)
    before = {name: logging.getLogger(name or None).level for name in levels}
    for name, wanted in levels.items():
        logging.getLogger(name or None).setLevel(wanted)

    def restore() -> None:
        for name, old in before.items():
            logging.getLogger(name or None).setLevel(old)

    return restore


def _fail(failure: Failure) -> int:
    with contextlib.suppress(BrokenPipeError):
        print(f"error: {redact(failure.message)}", file=sys.stderr)
    return failure.code


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit raises nothing."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _version() -> str:
    from pipeline import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
