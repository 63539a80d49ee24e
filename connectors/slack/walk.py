"""Cursor paging over a Slack list method (vendors.md §1.2), trusting no page that proves nothing.

Only an empty `next_cursor` ends a walk; short pages do not. A page is *well formed* when its
list key holds a list, `response_metadata.next_cursor` (if any) is a string, `has_more` (if any)
is a bool that agrees with the cursor, and (for message walks) it is empty only when it is the
last. Anything else is `MalformedPageError`: the walk of that scope fails, so nothing in it is
swept (issue 10: an `ok` page with `has_more: true` and no cursor once ended a walk early and
tombstoned the rest of the window). A cursor that comes back twice is a vendor loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.slack.client import SlackClient
from pipeline import MalformedPageError, SourceError


def read_page(
    body: Any, method: str, items_at: str, *, empty_is_last: bool = True
) -> tuple[list[Any], str | None]:
    """(items, cursor of the next page or None at the end) of a well-formed page, else raise.

    `empty_is_last=False` accepts an empty page that carries a cursor: users report
    `conversations.list` pages that come back empty mid-walk (vendors.md §1.2).
    """
    items = body.get(items_at) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise MalformedPageError(f"{method}: the page has no {items_at!r} list")
    cursor, has_more = _cursor(body, method), body.get("has_more")
    if has_more is not None and not isinstance(has_more, bool):
        raise MalformedPageError(f"{method}: has_more is {has_more!r}, not a boolean")
    if has_more and cursor is None:
        raise MalformedPageError(f"{method}: has_more is true but the page has no next_cursor")
    if has_more is False and cursor is not None:
        raise MalformedPageError(f"{method}: has_more is false but the page has a next_cursor")
    if empty_is_last and not items and cursor is not None:
        raise MalformedPageError(f"{method}: an empty {items_at!r} page that is not the last")
    return items, cursor


def _cursor(body: dict[str, Any], method: str) -> str | None:
    meta = body.get("response_metadata")
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise MalformedPageError(f"{method}: response_metadata is {meta!r}")
    cursor = meta.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedPageError(f"{method}: response_metadata.next_cursor is {cursor!r}")
    return cursor or None


def walk(
    client: SlackClient,
    method: str,
    items_at: str,
    cursor: str | None = None,
    *,
    empty_is_last: bool = True,
    **params: Any,
) -> Iterator[tuple[list[Any], str | None]]:
    """Yield (items, cursor after this page) for each well-formed page of `method`."""
    seen: set[str] = set()
    while True:
        body = client.call(method, cursor=cursor, limit=client.limit, **params)
        items, cursor = read_page(body, method, items_at, empty_is_last=empty_is_last)
        yield items, cursor
        if cursor is None:
            return
        if cursor in seen:
            raise SourceError(f"{method}: the cursor repeated; the vendor walk is looping")
        seen.add(cursor)
