"""Linear's GraphQL wire format for the `linear-issues` stream (DESIGN §7, vendors.md §4.2): the
page query, the filter of an incremental or a complete walk, and the mapping of Linear's answers
(HTTP 200 or 400 with `errors`) onto `pipeline`'s errors.

Labels are read as `labelIds` (0.1 complexity point) rather than the `labels` connection, which
costs `first` × (1 + fields) points per issue: a 250-issue page drops from ~8,100 to ~1,850 points,
so a 10,000-issue first sync fits in one hour's complexity budget (§4.2).
"""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from pipeline import AuthError, PageTooLargeError, RateLimitedError, SourceError, TransientError

ISSUES_QUERY = """
query LinearIssues($first: Int!, $after: String, $filter: IssueFilter) {
  issues(first: $first, after: $after, orderBy: updatedAt, includeArchived: true, filter: $filter) {
    nodes {
      id identifier number title description priority estimate
      createdAt updatedAt archivedAt trashed completedAt canceledAt
      state { id name type }
      team { id key name }
      assignee { id name email }
      project { id name }
      labelIds
    }
    pageInfo { hasNextPage endCursor }
  }
}
""".strip()


class PartialPageError(TransientError):
    """An answer with `data` and `errors` together: never a complete page (DESIGN §7)."""


def issue_filter(team: str | None, since: str | None) -> dict[str, Any] | None:
    """`updatedAt >= since` or `archivedAt >= since` (archiving may keep `updatedAt`, §4.2: an
    issue archived after the last walk has `archivedAt` past that walk's high water), within one
    team; None for a complete walk of the whole workspace."""
    clauses: list[dict[str, Any]] = []
    if since is not None:
        clauses.append({"or": [{"updatedAt": {"gte": since}}, {"archivedAt": {"gte": since}}]})
    if team:
        clauses.append({"team": {"key": {"eq": team}}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"and": clauses}


def check(response: httpx.Response) -> None:
    """Raise the error a Linear answer stands for; a clean `data` answer passes.

    RATELIMITED (HTTP 400 or 429) waits until `x-ratelimit-requests-reset` (epoch ms, read against
    the answer's own `Date`); AUTHENTICATION_ERROR names the variable to fix; "too complex" asks
    for a smaller page; `data` with `errors` is a failed page, retried like a 5xx.
    """
    body = _json_or_none(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = (first.get("extensions") or {}).get("code")
    message = str(first.get("message", ""))[:200]
    if code == "RATELIMITED":
        raise RateLimitedError(f"Linear: {message}", retry_after_s=_reset_in_s(response))
    if code == "AUTHENTICATION_ERROR":
        raise AuthError("Linear rejected the API key: check LINEAR_API_KEY (sent bare, no Bearer)")
    if "too complex" in message.lower():
        raise PageTooLargeError(f"Linear: {message}")
    if body.get("data") is not None:
        raise PartialPageError(f"Linear answered data with {len(errors)} error(s): {message}")
    raise SourceError(f"Linear: {code or 'error'}: {message}")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None  # an HTML gateway page: the status mapping deals with it


def _reset_in_s(response: httpx.Response) -> float | None:
    """Seconds until the budget that refused us resets: the reset headers are epoch milliseconds,
    measured against the answer's `Date` (the vendor's clock, so our clock's skew never counts)."""
    date = response.headers.get("date")
    if not date:
        return None
    now_s = parsedate_to_datetime(date).timestamp()
    for name in ("x-ratelimit-requests-reset", "x-ratelimit-complexity-reset"):
        value = response.headers.get(name)
        if value and value.isdigit():
            return float(max(math.ceil(int(value) / 1000 - now_s), 1))
    return None
