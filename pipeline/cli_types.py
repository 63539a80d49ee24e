"""Argument types and the parser class every `pipeline` sub-command shares.

Each type raises `argparse.ArgumentTypeError` with a sentence saying what is expected, and
`OneLineParser` prints any parse error as one line (DESIGN §5: one line that says what to fix).
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from pipeline.durations import parse_duration
from pipeline.errors import ConfigError

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the fix, exit 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def positive_int(text: str) -> int:
    """A whole number of at least 1 (`--limit`, `--port`...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {text!r}")
    return value


def duration_s(text: str) -> float:
    """`30s`, `5m`, `1h`, `7d` → seconds."""
    try:
        return parse_duration(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
