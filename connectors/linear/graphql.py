"""Linear's GraphQL wire format for the `linear-issues` stream (DESIGN §7, vendors.md §4.2): the
page query, the filter of an incremental or a complete walk, and the mapping of Linear's answers
onto `pipeline`'s errors.

Labels are read as `labelIds` (0.1 complexity point) rather than the `labels` connection, which
costs `first` × (1 + fields) points per issue: a 250-issue page drops from ~8,100 to ~1,850 points,
so a 10,000-issue first sync fits in one hour's complexity budget (§4.2).
"""

from __future__ import annotations

from typing import Any

import httpx

from pipeline import AuthError, RateLimitedError, SourceError, TransientError

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


class QueryTooComplexError(SourceError):
    """Linear refused one query as too complex; ask again with a smaller `first`."""


class PartialPageError(TransientError):
    """An answer with `data` and `errors` together: never a complete page (DESIGN §7)."""


def issue_filter(
    teams: list[str] | None, since: str | None, archived_since: str | None
) -> dict[str, Any] | None:
    """`updatedAt >= since` or `archivedAt > archived_since` (archiving may keep `updatedAt`,
    §4.2), within the configured team keys; None for a complete, unfiltered walk."""
    clauses: list[dict[str, Any]] = []
    if since is not None:
        changed: list[dict[str, Any]] = [{"updatedAt": {"gte": since}}]
        if archived_since is not None:
            changed.append({"archivedAt": {"gt": archived_since}})
        clauses.append({"or": changed} if len(changed) > 1 else changed[0])
    if teams:
        clauses.append({"team": {"key": {"in": list(teams)}}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"and": clauses}


def check(response: httpx.Response, now_s: float) -> None:
    """Raise the error a Linear answer stands for; a clean `data` answer passes.

    RATELIMITED (HTTP 400 or 429) waits until `x-ratelimit-requests-reset` (epoch ms);
    AUTHENTICATION_ERROR names the variable to fix; "too complex" asks for a smaller page.
    """
    try:
        body = response.json()
    except ValueError:
        if response.is_success:
            raise TransientError(f"HTTP {response.status_code}: not JSON") from None
        return  # an HTML gateway page: the status mapping deals with it
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = (first.get("extensions") or {}).get("code")
    message = str(first.get("message", ""))[:200]
    if code == "RATELIMITED":
        raise RateLimitedError(f"Linear: {message}", retry_after_s=_reset_in_s(response, now_s))
    if code == "AUTHENTICATION_ERROR":
        raise AuthError("Linear rejected the API key: check LINEAR_API_KEY (sent bare, no Bearer)")
    if "too complex" in message.lower():
        raise QueryTooComplexError(f"Linear: {message}")
    if body.get("data") is not None:
        raise PartialPageError(f"Linear answered data with {len(errors)} error(s): {message}")
    raise SourceError(f"Linear: {code or 'error'}: {message}")


def _reset_in_s(response: httpx.Response, now_s: float) -> float | None:
    """Seconds until the budget that refused us resets (headers are epoch milliseconds)."""
    for name in ("x-ratelimit-requests-reset", "x-ratelimit-complexity-reset"):
        value = response.headers.get(name)
        if value and value.isdigit():
            return max(int(value) / 1000 - now_s, 1.0)
    return None


def page_of(body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool, str | None]:
    """`(nodes, hasNextPage, endCursor)` of an `issues` answer."""
    issues = body["data"]["issues"]
    info = issues["pageInfo"]
    return list(issues["nodes"]), bool(info["hasNextPage"]), info.get("endCursor")
