"""What the `pipeline` command says when it cannot go on: one line naming what to fix, and an exit code.

`explain(error, url)` maps every error class a user or their environment can cause to a `Failure`
(DESIGN §5 "Exit status"). Exit 2: something typed or configured is wrong (a bad URL, a wrong
password, a file that is not a database, a missing directory, a bad number, a config mistake);
fix the command or the file. Exit 1: the environment failed (an unreachable server, a read-only
file, a busy port) or the run failed; the same command may work once that is fixed. `cli.py`
prints the line; the traceback only with `-v`.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from pipeline.db import shown_path, sqlite_path
from pipeline.errors import ConfigError, PipelineError, redact

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
WHERE = "--db or PIPELINE_DATABASE_URL"
_PASSWORD = re.compile(r"(://[^:/@]+):[^@]*@")


@dataclass(frozen=True)
class Failure:
    """One line for the operator and the exit code that goes with it."""

    message: str
    code: int


def explain(error: BaseException, url: str, port: int | None = None) -> Failure:
    """The line and exit code for an error that ended a command (`url`: the database in use,
    `port`: the one the command was asked to listen on)."""
    if isinstance(error, KeyboardInterrupt):
        return Failure("interrupted", EXIT_INTERRUPTED)
    if isinstance(error, ConfigError):
        return Failure(str(error), EXIT_BAD_INPUT)
    if isinstance(error, PipelineError):
        return Failure(str(error), EXIT_FAILED)
    if isinstance(error, (ArgumentError, NoSuchModuleError, ModuleNotFoundError)):
        return _bad_url(error, url)
    if isinstance(error, DBAPIError):
        return _database(str(error.orig).strip(), url)
    if isinstance(error, OSError):
        return _os(error, port)
    detail = f"{type(error).__name__}: {error}".splitlines()[0]
    return Failure(f"internal error: {detail} (run again with -v for the traceback)", EXIT_FAILED)


def shown_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    return _PASSWORD.sub(r"\1:***@", url)


def _bad_url(error: BaseException, url: str) -> Failure:
    if isinstance(error, ModuleNotFoundError) and "psycopg" in str(error):
        return Failure(
            "PostgreSQL needs the psycopg driver: pip install 'integration-sync-pipeline[postgres]'",
            EXIT_BAD_INPUT,
        )
    if isinstance(error, ModuleNotFoundError):
        return Failure(f"missing Python module: {error.name}", EXIT_FAILED)
    return Failure(
        f"bad database URL {shown_url(url)!r}: use sqlite:///path/to/file.db or "
        f"postgresql+psycopg://user@host/db ({WHERE})",
        EXIT_BAD_INPUT,
    )


def _database(text: str, url: str) -> Failure:
    """Database errors by what the driver said (SQLite and psycopg word them differently)."""
    path = sqlite_path(url)
    first = redact(text.splitlines()[0] if text else "unknown error")
    if path is not None:
        return _sqlite(first, path)
    lowered = text.lower()
    for needle, message, code in _POSTGRES:
        if needle in lowered:
            return Failure(message.format(url=shown_url(url), host=_host(url)), code)
    return Failure(f"database error at {shown_url(url)}: {first}", EXIT_FAILED)


_POSTGRES = (
    (
        "password authentication failed",
        "the database rejected the user or password in {url}: fix it in " + WHERE,
        EXIT_BAD_INPUT,
    ),
    (
        "does not exist",
        "no such database or user at {url}: create it (createdb) or fix " + WHERE,
        EXIT_BAD_INPUT,
    ),
    (
        "connection refused",
        "cannot reach the database at {host} (connection refused): is it running? ({url})",
        EXIT_FAILED,
    ),
    (
        "could not translate host name",
        "unknown database host {host}: fix " + WHERE,
        EXIT_BAD_INPUT,
    ),
    (
        "name or service not known",
        "unknown database host {host}: fix " + WHERE,
        EXIT_BAD_INPUT,
    ),
    (
        "timeout",
        "cannot reach the database at {host} (timed out): is it running and reachable? ({url})",
        EXIT_FAILED,
    ),
    (
        "connection failed",
        "cannot reach the database at {host}: is it running? ({url})",
        EXIT_FAILED,
    ),
)


def _sqlite(first: str, path: Path) -> Failure:
    shown = shown_path(path)
    if "file is not a database" in first:
        return Failure(
            f"{shown} is not a pipeline database: point {WHERE} at another file",
            EXIT_BAD_INPUT,
        )
    if "readonly" in first:
        return Failure(
            f"{shown} is read-only: make the file and its directory writable "
            "(SQLite writes -wal and -shm files beside it)",
            EXIT_FAILED,
        )
    if "unable to open" in first and not path.parent.exists():
        return Failure(
            f"cannot open {shown}: the directory {shown_path(path.parent)} does not exist",
            EXIT_BAD_INPUT,
        )
    if "unable to open" in first:
        return Failure(f"cannot open {shown}: check its permissions", EXIT_FAILED)
    return Failure(f"database error in {shown}: {first}", EXIT_FAILED)


def _host(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "?"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def _os(error: OSError, port: int | None) -> Failure:
    if error.errno == errno.EADDRINUSE:
        which = f"port {port}" if port is not None else "the port"
        return Failure(
            f"{which} is already in use: stop what listens there or pick another with --port",
            EXIT_FAILED,
        )
    where = f": {error.filename}" if error.filename else ""
    reason = error.strerror or str(error)
    if isinstance(error, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return Failure(f"{reason}{where}", EXIT_BAD_INPUT)
    return Failure(f"{reason}{where}", EXIT_FAILED)
