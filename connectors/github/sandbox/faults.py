"""Runtime fault injection: 5xx, timeouts, secondary-limit storms, forced primary exhaustion.

A `Fault` matches requests by HTTP method, route name (`list_issues`, `get_issue`, …), path
(a glob such as `/repos/*/issues`) and page number; it lets `skip` matching calls through first
(so "the Nth call" is `skip=N-1`), then fires "once", `times=n`, or until cleared
(`times=None`), optionally with probability p from a seeded RNG (vendors.md §6.1.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from pipeline.testing import FaultBook

KINDS = ("http_error", "timeout", "secondary", "primary", "bad_json")


@dataclass(frozen=True)
class Call:
    """What a fault can match: one API request as the app sees it."""

    method: str
    route: str
    path: str
    page: int = 1


@dataclass
class Fault:
    """One injected behaviour; the `Faults` helpers document each kind's options."""

    kind: str
    method: str | None = None
    route: str | None = None
    path: str | None = None
    page: int | None = None
    skip: int = 0  # matching calls let through before the fault starts firing
    times: int | None = 1  # None: until cleared
    probability: float = 1.0
    status: int = 500  # http_error; secondary and primary: 403 or 429
    retry_after_s: int | None = 60  # secondary: None sends no `retry-after` (vendors.md §4.1)
    id: int = 0
    fired: int = 0
    seen: int = 0

    def matches(self, call: Call) -> bool:
        return (
            (self.method is None or self.method.upper() == call.method)
            and (self.route is None or self.route == call.route)
            and (self.path is None or fnmatchcase(call.path, self.path))
            and (self.page is None or self.page == call.page)
        )

    def due(self) -> bool:
        return self.seen > self.skip


class Faults(FaultBook[Fault]):
    """The active faults. Thread-safe: the real server answers on several threads."""

    kinds, fault_type = KINDS, Fault

    def __init__(self, seed: int = 1) -> None:
        super().__init__(seed)

    def fail(self, status: int = 500, times: int | None = 1, **match: Any) -> Fault:
        """The next matching calls answer HTTP `status` (500 JSON; 502/503/504 an HTML page)."""
        return self.add("http_error", status=status, times=times, **match)

    def timeout(self, times: int | None = 1, **match: Any) -> Fault:
        """In-process: raise httpx.ReadTimeout at once. Real HTTP: a 504 from the "gateway"."""
        return self.add("timeout", times=times, **match)

    def secondary(
        self,
        times: int | None = 1,
        *,
        retry_after_s: int | None = 60,
        status: int = 403,
        **match: Any,
    ) -> Fault:
        """A secondary-limit answer, with `retry-after` or (None) without it (§4.1)."""
        return self.add(
            "secondary", times=times, retry_after_s=retry_after_s, status=status, **match
        )

    def primary(self, times: int | None = 1, *, status: int = 403, **match: Any) -> Fault:
        """A primary-limit answer (`x-ratelimit-remaining: 0`) whatever the budget says."""
        return self.add("primary", times=times, status=status, **match)

    def bad_json(self, times: int | None = 1, **match: Any) -> Fault:
        """HTTP 200 with a truncated JSON body."""
        return self.add("bad_json", times=times, **match)
