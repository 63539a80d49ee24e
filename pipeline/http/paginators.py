"""Paginators: frozen specs of how a vendor pages (STYLE "paginators are frozen specs").

A paginator never holds walk state. `next(request, response, body)` reads the answer to one page
request and returns the request for the next page, or None when the vendor signalled the end.
Names say where a value is read from (`next_at`, in the response) and written to (`param`, in the
request). Every paginator refuses a cursor that repeats (a vendor bug must not loop forever) and
an answer that says "more" without saying where (a malformed page, never a silent end).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from pipeline.errors import MalformedPageError


@dataclass(frozen=True)
class PageRequest:
    """One page request: a path (or an absolute URL from a `Link` header), query and JSON body."""

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    seen: tuple[str, ...] = ()
    """Cursors this walk already sent (kept short: the last few), to refuse a repeat."""

    def state(self) -> dict[str, Any]:
        """JSON-ready form, stored in the checkpoint so a killed walk resumes at this page."""
        return {"path": self.path, "params": dict(self.params), "json": self.json}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> PageRequest:
        return cls(state["path"], state.get("params") or {}, state.get("json"))


class Paginator(Protocol):
    """How a vendor pages: the next page's request after an answer, or None at the end."""

    def next(
        self, request: PageRequest, response: httpx.Response, body: Any
    ) -> PageRequest | None: ...


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path (`meta.next_cursor`), or None when any step is missing."""
    value = body
    for part in path.split(".") if path else ():
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _advance(request: PageRequest, cursor: str, **changes: Any) -> PageRequest:
    if cursor in request.seen:
        raise MalformedPageError(f"the vendor sent cursor {cursor[:40]!r} twice; stopping the walk")
    return replace(request, seen=(*request.seen[-15:], cursor), **changes)


@dataclass(frozen=True)
class SinglePage:
    """One request is the whole listing."""

    def next(self, request: PageRequest, response: httpx.Response, body: Any) -> PageRequest | None:
        return None


@dataclass(frozen=True)
class CursorPaginator:
    """A cursor in the body (`next_at`) sent back as a query parameter (`param`).

    With `has_more_at`, the vendor's own flag decides the end: `has_more: true` with no cursor is a
    malformed page (an empty page with `has_more`), not the end.
    """

    next_at: str
    param: str
    has_more_at: str | None = None

    def next(self, request: PageRequest, response: httpx.Response, body: Any) -> PageRequest | None:
        cursor = dig(body, self.next_at)
        more = bool(cursor) if self.has_more_at is None else dig(body, self.has_more_at) is True
        if not more:
            return None
        if not cursor:
            raise MalformedPageError(f"{self.has_more_at} is true but {self.next_at} is empty")
        return _advance(request, str(cursor), params={**request.params, self.param: cursor})


@dataclass(frozen=True)
class LinkPaginator:
    """RFC 8288 `Link: <…>; rel="next"` headers: follow the URL, never build one."""

    rel: str = "next"

    def next(self, request: PageRequest, response: httpx.Response, body: Any) -> PageRequest | None:
        link = response.links.get(self.rel)
        if not link or not link.get("url"):
            return None
        url = str(link["url"])
        return _advance(request, url, path=url, params={})


@dataclass(frozen=True)
class PageNumberPaginator:
    """`?page=N` (from `start`); the walk ends on a page shorter than `size` (or empty)."""

    param: str = "page"
    size: int = 100
    size_param: str | None = "per_page"
    start: int = 1
    records_at: str = ""

    def next(self, request: PageRequest, response: httpx.Response, body: Any) -> PageRequest | None:
        records = dig(body, self.records_at)
        if not isinstance(records, list) or len(records) < self.size:
            return None
        page = int(request.params.get(self.param, self.start)) + 1
        params = {**request.params, self.param: page}
        if self.size_param:
            params[self.size_param] = self.size
        return _advance(request, str(page), params=params)


@dataclass(frozen=True)
class OffsetPaginator:
    """`?offset=N&limit=L`; the walk ends on a page shorter than `limit` (or empty)."""

    param: str = "offset"
    limit: int = 100
    limit_param: str = "limit"
    records_at: str = ""

    def next(self, request: PageRequest, response: httpx.Response, body: Any) -> PageRequest | None:
        records = dig(body, self.records_at)
        if not isinstance(records, list) or len(records) < self.limit:
            return None
        offset = int(request.params.get(self.param, 0)) + len(records)
        params = {**request.params, self.param: offset, self.limit_param: self.limit}
        return _advance(request, str(offset), params=params)


@dataclass(frozen=True)
class RelayPaginator:
    """GraphQL Relay connections: `pageInfo { hasNextPage endCursor }` → `variables.<variable>`."""

    page_info_at: str
    variable: str = "after"

    def next(self, request: PageRequest, response: httpx.Response, body: Any) -> PageRequest | None:
        info = dig(body, self.page_info_at)
        if not isinstance(info, Mapping):
            raise MalformedPageError(f"the answer has no {self.page_info_at}")
        if info.get("hasNextPage") is not True:
            return None
        cursor = info.get("endCursor")
        if not cursor:
            raise MalformedPageError(
                f"{self.page_info_at}.hasNextPage is true but endCursor is empty"
            )
        query = dict(request.json or {})
        query["variables"] = {**(query.get("variables") or {}), self.variable: cursor}
        return _advance(request, str(cursor), json=query)
