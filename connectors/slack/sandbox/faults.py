"""Runtime fault injection for the sandbox: 5xx, timeouts, 429 storms, Slack errors, short pages,
and malformed-but-valid answers (`ok: true` pages that prove nothing; issue 10, `SHAPES`).

A `Fault` matches calls by method, channel, page number within a walk (1 = no cursor) or exact
cursor, and fires "once", "n times" (`times=n`), "until cleared" (`times=None`), on every k-th
matching call, or with probability p from a seeded RNG (vendors.md §6.1.6, §6.1.7). The app asks
`take(call, kinds)` at the point where each kind of fault applies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pipeline.testing import FaultBook

KINDS = ("http_error", "timeout", "ratelimited", "error", "short_page", "bad_json", "malformed")

LIST_KEYS = {"conversations.list": "channels", "users.list": "members"}  # else "messages"
TS_VALUES: dict[str, Any] = {"null_ts": None, "list_ts": ["1"], "text_ts": "yesterday"}
SHAPES = (
    "empty_has_more",  # the list emptied, has_more: true, no cursor
    "missing_list",  # no list key, no has_more, no cursor: looks like the last page
    "no_parent",  # conversations.replies without the thread's parent
    "lost_replies",  # conversations.replies: the parent alone, as if every reply were gone
    "int_ts",  # one message's ts an integer (the key changes type)
    "missing_ts",
    *TS_VALUES,
)


@dataclass(frozen=True)
class Call:
    """What a fault can match on: one API request, as the app sees it."""

    method: str
    channel: str | None = None
    page: int | None = None
    cursor: str | None = None


@dataclass
class Fault:
    """One injected behaviour; see the `Faults` helpers for the meaning of each kind's options."""

    kind: str
    method: str | None = None
    channel: str | None = None
    page: int | None = None
    cursor: str | None = None
    times: int | None = 1  # None: until cleared
    every: int = 1  # fire on every k-th matching call
    probability: float = 1.0
    status: int = 503  # http_error
    retry_after_s: int = 30  # ratelimited
    error: str = ""  # error: the Slack code, e.g. "invalid_cursor", "token_revoked"
    extra: dict[str, Any] = field(default_factory=dict)  # error: e.g. needed/provided
    size: int = 0  # short_page: items on the page (0 = an empty page that still has a cursor)
    shape: str = ""  # malformed: one of SHAPES
    index: int = 0  # malformed *_ts: which item of the page gets the bad ts
    delay_s: float = 0.0  # timeout over real HTTP only; in-process timeouts never sleep
    id: int = 0
    fired: int = 0
    seen: int = 0

    def matches(self, call: Call) -> bool:
        return (
            (self.method is None or self.method == call.method)
            and (self.channel is None or self.channel == call.channel)
            and (self.page is None or self.page == call.page)
            and (self.cursor is None or self.cursor == call.cursor)
        )

    def due(self) -> bool:
        return self.seen % self.every == 0


class Faults(FaultBook[Fault]):
    """The active faults. Thread-safe: the real server handles requests on several threads."""

    kinds, fault_type = KINDS, Fault

    def fail(self, times: int | None = 1, *, status: int = 503, **match: Any) -> Fault:
        """The next matching calls get HTTP `status` with an HTML body, like Slack's error page."""
        return self.add("http_error", times=times, status=status, **match)

    def timeout(self, times: int | None = 1, *, delay_s: float = 0.0, **match: Any) -> Fault:
        """In-process: raise httpx.ReadTimeout. Real HTTP: answer after `delay_s` (504 if 0)."""
        return self.add("timeout", times=times, delay_s=delay_s, **match)

    def ratelimit_storm(
        self, times: int | None = 1, *, retry_after_s: int = 30, **match: Any
    ) -> Fault:
        """The next matching calls get 429 + Retry-After regardless of the rate budget."""
        return self.add("ratelimited", times=times, retry_after_s=retry_after_s, **match)

    def error(self, code: str, times: int | None = 1, **match: Any) -> Fault:
        """HTTP 200 `{"ok": false, "error": code}`, e.g. "token_revoked" or "internal_error"."""
        extra = match.pop("extra", {})
        return self.add("error", times=times, error=code, extra=extra, **match)

    def invalid_cursor(self, times: int | None = 1, **match: Any) -> Fault:
        """`invalid_cursor` on a given page or cursor: the cursor "is no longer valid" (§1.5)."""
        return self.error("invalid_cursor", times, **match)

    def short_pages(self, size: int = 0, times: int | None = None, **match: Any) -> Fault:
        """Pages with at most `size` items that still carry a cursor (§1.2: short ≠ last)."""
        return self.add("short_page", times=times, size=size, **match)

    def malformed(self, shape: str, times: int | None = 1, **match: Any) -> Fault:
        """An `ok: true` page of `shape` (one of SHAPES) in place of the real one."""
        if shape not in SHAPES:
            raise ValueError(f"unknown page shape {shape!r}; known: {', '.join(SHAPES)}")
        return self.add("malformed", times=times, shape=shape, **match)

    def bad_json(self, times: int | None = 1, **match: Any) -> Fault:
        """HTTP 200 with a truncated JSON body."""
        return self.add("bad_json", times=times, **match)


def malform(body: dict[str, Any], fault: Fault, method: str) -> dict[str, Any]:
    """The real page `body` turned into the fault's malformed shape (a copy)."""
    key, page = LIST_KEYS.get(method, "messages"), copy.deepcopy(body)
    items = page.get(key) or []
    end = {"next_cursor": ""}
    if fault.shape == "empty_has_more":
        page.update({key: [], "has_more": True, "response_metadata": end})
    elif fault.shape == "missing_list":
        page.pop(key, None)
        page.pop("has_more", None)
        page["response_metadata"] = end
    elif fault.shape == "no_parent":
        page[key] = [m for m in items if m.get("thread_ts") != m.get("ts")]
    elif fault.shape == "lost_replies":
        page.update({key: [m for m in items if m.get("thread_ts") == m.get("ts")]})
        page.update({"has_more": False, "response_metadata": end})
    elif items:
        target = items[min(fault.index, len(items) - 1)]
        if fault.shape == "int_ts":
            target["ts"] = int(float(target["ts"]))
        elif fault.shape == "missing_ts":
            target.pop("ts", None)
        else:
            target["ts"] = TS_VALUES[fault.shape]
    return page
