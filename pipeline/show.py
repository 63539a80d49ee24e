"""Text for humans: a changed field as `field: from → to` (with deepdiff's nested detail for dicts
and lists), a duration, a JSON line. Used by `pipeline runs show` and `pipeline entities show`;
never on the sync path (DESIGN §6: deepdiff only for display, past the hash gate).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline.differ import explain

WIDTH = 60
NESTED_MAX = 8
_ROOT = re.compile(r"^root")


def short(value: Any, width: int = WIDTH) -> str:
    """A value as compact JSON, cut at `width` characters."""
    text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def change_lines(changed_fields: Mapping[str, Any]) -> list[str]:
    """One line per changed field (nested fields: one per nested change)."""
    lines: list[str] = []
    for name in sorted(changed_fields):
        change = changed_fields[name] or {}
        old, new = change.get("from"), change.get("to")
        if isinstance(old, (dict, list)) and isinstance(new, (dict, list)):
            lines += nested_lines(name, old, new)
        else:
            lines.append(f"{name}: {short(old)} → {short(new)}")
    return lines


def nested_lines(name: str, old: Any, new: Any) -> list[str]:
    """deepdiff's report of one field, as `field[path]: from → to` / `added` / `removed` lines."""
    lines = []
    for kind, found in explain(old, new).items():
        entries = found if isinstance(found, Mapping) else dict.fromkeys(found)
        for path, detail in entries.items():
            where = name + _ROOT.sub("", str(path))
            lines.append(_nested_line(kind, where, detail))
    lines.sort()
    if len(lines) > NESTED_MAX:
        lines[NESTED_MAX:] = [f"{name}: … and {len(lines) - NESTED_MAX} more nested changes"]
    return lines or [f"{name}: {short(old)} → {short(new)}"]


def _nested_line(kind: str, where: str, detail: Any) -> str:
    if kind.endswith("_added"):
        return f"{where}: added {short(detail)}"
    if kind.endswith("_removed"):
        return f"{where}: removed {short(detail)}"
    if isinstance(detail, Mapping) and "new_value" in detail:
        return f"{where}: {short(detail.get('old_value'))} → {short(detail['new_value'])}"
    return f"{where}: changed"


def seconds(duration_ms: int | None) -> str:
    return "-" if duration_ms is None else f"{duration_ms / 1000:.1f}s"


def when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def json_line(row: Mapping[str, Any]) -> str:
    """One row as one JSON line (timestamps ISO 8601)."""
    return json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()},
        default=str,
        sort_keys=True,
    )
