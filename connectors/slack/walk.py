"""Cursor paging over a Slack list method (vendors.md §1.2): follow `next_cursor` until it is empty.

Short or even empty pages do not mean the end; only an empty `next_cursor` does. A cursor that
comes back twice is a vendor loop and stops the walk with an error instead of spinning forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.slack.client import SlackClient
from pipeline import SourceError


def next_cursor(body: dict[str, Any]) -> str | None:
    return (body.get("response_metadata") or {}).get("next_cursor") or None


def walk(
    client: SlackClient, method: str, items_at: str, cursor: str | None = None, **params: Any
) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
    """Yield (items, cursor after this page) for each page of `method`."""
    seen: set[str] = set()
    while True:
        body = client.call(method, cursor=cursor, limit=client.limit, **params)
        cursor = next_cursor(body)
        yield list(body.get(items_at) or []), cursor
        if cursor is None:
            return
        if cursor in seen:
            raise SourceError(f"{method}: the cursor repeated; the vendor walk is looping")
        seen.add(cursor)
