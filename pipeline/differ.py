"""Content hash and field differ (seed-spec §3.3; DESIGN §4 steps 3 and 6).

The hash gate runs first on every record: canonical JSON (sorted keys, volatile fields dropped,
unordered lists sorted) hashed with BLAKE2b. Only a record whose hash changed reaches `FieldDiffer`,
and deepdiff is used only by `explain`, for the nested detail of a field that really changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any

import orjson

DEFAULT_IGNORE = frozenset(
    {
        "id",
        "createdAt",
        "updatedAt",
        "deletedAt",
        "type",
        "lastModifiedAt",
        "fields",
        "external_id",
        "externalId",
        "provider",
        "provider_metadata",
        "providerMetadata",
    }
)

_SORT = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys at every level, datetimes as ISO strings."""
    return orjson.dumps(value, option=_SORT)


def content_hash(
    record: Mapping[str, Any], volatile: Collection[str] = (), unordered: Collection[str] = ()
) -> str:
    """The hash gate: equal hashes mean the record did not change (32 hex chars)."""
    return content_hasher(volatile, unordered)(record)


def content_hasher(
    volatile: Collection[str] = (), unordered: Collection[str] = ()
) -> Callable[[Mapping[str, Any]], str]:
    """`content_hash` with its arguments fixed: the per-record call on the hash gate's hot path.

    The record is copied only when a field must go (volatile) or a list of two or more items must be
    sorted (unordered); most records hash as they are.
    """
    blake2b, dumps = hashlib.blake2b, orjson.dumps
    drop, sort = frozenset(volatile), tuple(unordered)

    def digest(record: Mapping[str, Any]) -> str:
        if drop:
            record = {k: v for k, v in record.items() if k not in drop}
        for name in sort:
            value = record.get(name)
            if isinstance(value, list) and len(value) > 1:
                record = {**record, name: _sorted_list(value)}  # a copy: the caller's record stays
        return blake2b(dumps(record, option=_SORT), digest_size=16).hexdigest()

    return digest


def _sorted_list(items: list[Any]) -> list[Any]:
    return sorted(items, key=canonical_json)


class FieldDiffer:
    """`changed_fields` by the rules of seed-spec §3.3, with per-stream volatile and unordered fields.

    - ignored fields (DEFAULT_IGNORE plus `ignore` and the stream's volatile ones) are never reported;
    - a key absent from the incoming record is never reported; `None` and missing are equal;
    - a datetime equals its ISO string; a numeric string equals the same number ("" is not 0);
    - dict key order never matters; list order matters unless the field is declared unordered;
    - values reported are the raw ones; a nested change reports the whole top-level field.
    """

    def __init__(
        self,
        ignore: Collection[str] = (),
        unignore: Collection[str] = (),
        unordered: Collection[str] = (),
    ) -> None:
        self.ignore = (DEFAULT_IGNORE | frozenset(ignore)) - frozenset(unignore)
        self.unordered = frozenset(unordered)

    def diff(
        self, stored: Mapping[str, Any] | None, incoming: Mapping[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """`{field: {"from": old, "to": new}}`; empty means no change (a noop)."""
        if stored is None:
            return self.created(incoming)
        changed = {}
        for name, new in incoming.items():
            if name in self.ignore:
                continue
            old = stored.get(name)
            if not self.equal(old, new, unordered=name in self.unordered):
                changed[name] = {"from": old, "to": new}
        return changed

    def created(self, incoming: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The create shape: every non-null, non-ignored field from None."""
        return {
            name: {"from": None, "to": value}
            for name, value in incoming.items()
            if value is not None and name not in self.ignore
        }

    def equal(self, old: Any, new: Any, *, unordered: bool = False) -> bool:
        if unordered and isinstance(old, list) and isinstance(new, list):
            return len(old) == len(new) and values_equal(_sorted_list(old), _sorted_list(new))
        return values_equal(old, new)


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality with the normalisations of seed-spec §3.3 rule 4 at every level."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if a == b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (datetime, date)) or isinstance(b, (datetime, date)):
        left, right = _as_datetime(a), _as_datetime(b)
        return left is not None and left == right
    if isinstance(a, str) and isinstance(b, (int, float)):
        return _as_number(a) == b
    if isinstance(b, str) and isinstance(a, (int, float)):
        return _as_number(b) == a
    return False


def _as_datetime(value: Any) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _as_number(text: str) -> float | None:
    """A non-blank numeric string as a finite number, else None (so "" never equals 0)."""
    if not text.strip():
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def explain(old: Any, new: Any) -> dict[str, Any]:
    """Nested detail of one changed field (deepdiff; for `pipeline runs show`, not the hot path)."""
    from deepdiff import DeepDiff

    return dict(DeepDiff(old, new, ignore_order=False, verbose_level=2).to_dict())
