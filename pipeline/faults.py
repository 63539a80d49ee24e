"""Fault injection for vendor sandboxes: the book of active faults every sandbox keeps.

A sandbox defines its `Fault` (what it matches a call on, and its options) and the helpers that
name its vendor's faults (`fail`, `ratelimit`, …); the book adds, removes and lists them, and
`take(call, kinds)` fires the first live matching one, once, n times or until cleared, on the
calls its schedule (`due()`) picks, with a probability from a seeded RNG (vendors.md §6.1.7).
Thread-safe: a sandbox served over real HTTP answers on several threads.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar


class InjectedFault(Protocol):
    """What the book needs of a sandbox's `Fault` (a dataclass with these fields)."""

    id: int
    kind: str
    times: int | None
    probability: float
    fired: int
    seen: int

    def matches(self, call: Any) -> bool: ...

    def due(self) -> bool:
        """Whether the matching call just counted in `seen` is one the fault fires on."""
        ...


F = TypeVar("F", bound=InjectedFault)


def is_spent(fault: InjectedFault) -> bool:
    return fault.times is not None and fault.fired >= fault.times


class FaultBook(Generic[F]):
    """The active faults of one sandbox; subclasses set `kinds` and `fault_type`."""

    kinds: tuple[str, ...] = ()
    fault_type: Callable[..., F]

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[F] = []
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, kind: str, **options: Any) -> F:
        """Add a fault of `kind` (one of `kinds`); options are the `Fault`'s fields."""
        if kind not in self.kinds:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(self.kinds)}")
        unknown = set(options) - set(getattr(self.fault_type, "__dataclass_fields__", options))
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        fault = self.fault_type(kind=kind, id=next(self._ids), **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: F | int) -> None:
        fault_id = fault if isinstance(fault, int) else fault.id
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    @property
    def active(self) -> list[F]:
        with self._lock:
            return [f for f in self._faults if not is_spent(f)]

    def take(self, call: Any, kinds: tuple[str, ...]) -> F | None:
        """The first live fault of `kinds` matching `call`, counted as fired; None if none fires."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and not is_spent(fault) and fault.matches(call):
                    fault.seen += 1
                    if fault.due() and self._rng.random() < fault.probability:
                        fault.fired += 1
                        return fault
            return None
