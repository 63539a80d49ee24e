"""List parameters, live sorting and page-number pagination with a `Link` header (§4.1, §6.3.1).

Pages are cut per request from the live, sorted data, so an item updated during an ascending
walk moves to the end and is seen twice, never lost, exactly as on GitHub. `since` is inclusive
("at or after"). `per_page` defaults to 30 and is clamped to 100.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from .clock import parse_iso

T = TypeVar("T")
DEFAULT_PER_PAGE, MAX_PER_PAGE = 30, 100


class QueryError(ValueError):
    """A parameter GitHub would reject with 422 Validation Failed."""


@dataclass(frozen=True)
class Query:
    state: str = "open"
    sort: str = "created"
    direction: str = "desc"
    since: float | None = None
    per_page: int = DEFAULT_PER_PAGE
    page: int = 1


def _choice(params: dict[str, Any], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = str(params.get(name) or default)
    if value not in allowed:
        raise QueryError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _positive(params: dict[str, Any], name: str, default: int) -> int:
    """GitHub ignores a non-numeric or non-positive page size or page number."""
    try:
        value = int(str(params.get(name, default)))
    except ValueError:
        return default
    return value if value > 0 else default


def _since(params: dict[str, Any]) -> float | None:
    raw = params.get("since")
    if not raw:
        return None
    try:
        return parse_iso(str(raw))
    except ValueError:
        raise QueryError(f"since must be an ISO 8601 timestamp, not {raw!r}") from None


def issue_query(params: dict[str, Any]) -> Query:
    """`GET /repos/{o}/{r}/issues`: state open|closed|all, sort created|updated|comments."""
    return Query(
        state=_choice(params, "state", "open", ("open", "closed", "all")),
        sort=_choice(params, "sort", "created", ("created", "updated", "comments")),
        direction=_choice(params, "direction", "desc", ("asc", "desc")),
        since=_since(params),
        per_page=min(_positive(params, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE),
        page=_positive(params, "page", 1),
    )


def comment_query(params: dict[str, Any]) -> Query:
    """Comment lists: sort created|updated; without `sort`, oldest first (direction ignored)."""
    sorted_by = params.get("sort")
    return Query(
        state="all",
        sort=_choice(params, "sort", "created", ("created", "updated")),
        direction=_choice(params, "direction", "desc", ("asc", "desc")) if sorted_by else "asc",
        since=_since(params),
        per_page=min(_positive(params, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE),
        page=_positive(params, "page", 1),
    )


def ordered(items: Sequence[T], query: Query, key: Callable[[T], tuple[Any, ...]]) -> list[T]:
    """`items` sorted on `key` (the sort field, then a tie-breaker) in the query's direction."""
    return sorted(items, key=key, reverse=query.direction == "desc")


def cut(items: Sequence[T], query: Query) -> tuple[list[T], int]:
    """The query's page of `items` and the last page number (1 for an empty list)."""
    last = max(1, -(-len(items) // query.per_page))
    start = (query.page - 1) * query.per_page
    return list(items[start : start + query.per_page]), last


def link_header(
    url: str, params: dict[str, Any], page: int, last: int, *, with_last: bool = True
) -> str | None:
    """`<url?…&page=N>; rel="next", …` like GitHub; None for a single page (header omitted)."""
    if last <= 1 and page <= 1:
        return None
    rels: list[tuple[str, int]] = []
    if page < last:
        rels.append(("next", page + 1))
        if with_last:
            rels.append(("last", last))
    if page > 1:
        rels += [("prev", min(page - 1, last)), ("first", 1)]
    query = {k: v for k, v in params.items() if k != "page"}
    return ", ".join(f'<{url}?{urlencode({**query, "page": n})}>; rel="{rel}"' for rel, n in rels)
