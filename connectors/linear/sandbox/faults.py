"""Runtime fault injection for the Linear sandbox (vendors.md §6.1.7, §6.4.3, §6.4.4).

Kinds: `http_error` (5xx), `timeout` (in-process: httpx.ReadTimeout, never a sleep), `ratelimited`
(a RATELIMITED answer whatever the budget), `partial` (HTTP 200 with `data` and `errors`: one
node's field nulled, as when a nested resolver fails) and `error` (a GraphQL error with a given
code and no data). A fault matches calls by root field (`issues`), page number within a walk
(1 = no `after`) or exact cursor, and fires once, `times=n`, until cleared (`times=None`), on
every k-th matching call, after the first n (`after=n`), or with a seeded probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

from pipeline.testing import FaultBook

KINDS = ("http_error", "timeout", "ratelimited", "partial", "error")


@dataclass(frozen=True)
class Call:
    """What a fault can match on: one GraphQL request, as the app sees it."""

    field: str | None = None
    page: int | None = None
    cursor: str | None = None


@dataclass
class Fault:
    kind: str
    field: str | None = None
    page: int | None = None
    cursor: str | None = None
    times: int | None = 1  # None: until cleared
    every: int = 1
    after: int = 0  # let the first `after` matching calls through
    probability: float = 1.0
    status: int = 503  # http_error; error (HTTP status of the error answer)
    code: str = "INTERNAL_ERROR"  # error / partial: extensions.code
    message: str = "Internal server error"
    extra: dict[str, Any] = default(default_factory=dict)
    id: int = 0
    fired: int = 0
    seen: int = 0

    def matches(self, call: Call) -> bool:
        return (
            (self.field is None or self.field == call.field)
            and (self.page is None or self.page == call.page)
            and (self.cursor is None or self.cursor == call.cursor)
        )

    def due(self) -> bool:
        return self.seen > self.after and (self.seen - self.after) % self.every == 0


class Faults(FaultBook[Fault]):
    """The active faults. Thread-safe: the real server answers on several threads."""

    kinds, fault_type = KINDS, Fault

    def fail(self, times: int | None = 1, *, status: int = 503, **match: Any) -> Fault:
        """The next matching calls get HTTP `status` (a gateway's HTML page for 502-504)."""
        return self.add("http_error", times=times, status=status, **match)

    def timeout(self, times: int | None = 1, **match: Any) -> Fault:
        """In-process: httpx.ReadTimeout. Over real HTTP: a 504 from the "gateway"."""
        return self.add("timeout", times=times, **match)

    def ratelimit(self, times: int | None = 1, **match: Any) -> Fault:
        """The next matching calls are refused RATELIMITED whatever the budgets hold."""
        return self.add("ratelimited", times=times, **match)

    def partial(self, times: int | None = 1, **match: Any) -> Fault:
        """HTTP 200 with `data` and `errors` together (§6.4.4): never a complete page."""
        return self.add("partial", times=times, **match)

    def error(self, code: str, times: int | None = 1, *, status: int = 400, **match: Any) -> Fault:
        """A GraphQL error answer with `extensions.code` = `code`, `data: null`."""
        return self.add("error", times=times, code=code, status=status, **match)
