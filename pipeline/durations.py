"""The one duration syntax of the project: `90s`, `5m`, `12h`, `7d`, `2w` (also `1.5h`).

Used by `pipeline.toml` (`interval`), `pipeline runs --since`, `pipeline events purge --older-than`.
"""

from __future__ import annotations

import re
from datetime import timedelta

from pipeline.errors import ConfigError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as `30m`; anything else is a ConfigError saying what to write."""
    match = _DURATION.match(str(text).strip())
    if not match or float(match[1]) <= 0:
        raise ConfigError(
            f"{text!r} is not a duration: use a number and a unit, e.g. 30s, 5m, 12h or 7d"
        )
    return float(match[1]) * _UNITS[match[2]]


def duration(text: str) -> timedelta:
    """`parse_duration` as a timedelta."""
    return timedelta(seconds=parse_duration(text))
