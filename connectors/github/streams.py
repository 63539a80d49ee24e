"""`github-issues` and `github-comments`: per repo, Link-paged listings, oldest change first.

Incremental: `state=all&sort=updated&direction=asc&since=<high water − lookback>&per_page=100`,
following `Link: rel="next"` (never building page URLs), checkpointed after every committed page;
`since` is inclusive, so boundary items come back as noops. An idle poll sends `If-None-Match`
and a 304 costs no rate limit. Full, unfiltered listings (first sync, `--full-refresh`, and
`full_walk_every`, default daily) find deletions by absence behind the max-fraction guard; each
absent issue is confirmed by a direct GET: 410 → `deleted`, 301 → `transferred` (vendors.md §4.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel

from connectors.github.client import github, rejected
from connectors.github.models import Comment, Issue, comment_record, issue_record
from pipeline import (
    Column,
    HttpClient,
    LinkPaginator,
    RestStream,
    ScopeCheckpoint,
    SourceContext,
)
from pipeline import ConnectorConfig as Config

M = TypeVar("M", bound=BaseModel)
GONE = {410: "deleted", 301: "transferred", 404: "absent"}  # 200: still there, keep it
STAMPS = (  # the vendor's times; `created_at` / `updated_at` are the row's own (DESIGN §5)
    Column("github_created_at", at="created_at", type=sa.DateTime(timezone=True)),
    Column("github_updated_at", at="updated_at", type=sa.DateTime(timezone=True), index=True),
)


class GitHubStream(RestStream[M]):
    """What both streams share: one walk per repo, Link pages, `updated_at` high water, ETags."""

    paginator = LinkPaginator()
    high_water = "updated_at"
    lookback_s = 60.0  # `since` is inclusive; a minute also covers GitHub's replication lag
    scope_column = "repo"
    conditional = True
    # vendors.md §4.1: the primary and secondary limits count every REST call of the token, so
    # both streams pace as one method and a 403/429 with a reset blocks them both
    budget_key = "rest"

    def __init__(self, client: HttpClient, config: Config, context: SourceContext) -> None:
        super().__init__(client, config, context)
        client.rejected = partial(rejected, token_env=config.token_env or "GITHUB_TOKEN")

    def scopes(self) -> Sequence[str]:
        return list(getattr(self.config, "repos", ()))


@github.stream
class Issues(GitHubStream[Issue]):
    """issues and pull requests of the configured repos (is_pull_request)"""

    name, entity, model, path = "issues", "issue", Issue, "repos/{scope}/issues"
    volatile = frozenset({"updated_at", "comments"})  # moved by every change and every new comment
    unordered = frozenset({"labels", "assignees"})
    columns = (
        "repo", "number", "title", "state", "state_reason", "author", "labels", "assignees",
        "is_pull_request", *STAMPS, "closed_at",
    )  # fmt: skip

    def params(self, checkpoint: ScopeCheckpoint) -> dict[str, Any]:
        since = checkpoint.high_water
        return {
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "since": since,
            "per_page": 100,
        }

    def prepare(self, record: Mapping[str, Any], scope: str) -> Mapping[str, Any]:
        return issue_record(record, scope)

    def confirm_absent(self, scope: str, external_ids: Sequence[str]) -> dict[str, str | None]:
        """A direct GET per issue a complete listing missed: 410 deleted, 301 transferred."""
        stored = self.context.lookup.lookup(external_ids)
        reasons: dict[str, str | None] = {}
        for key in external_ids:
            number = (stored.get(key) or {}).get("number")
            if number is None:
                reasons[key] = "absent"
                continue
            path = f"repos/{scope}/issues/{number}"
            answer = self.client.request(
                "GET", path, expect=tuple(GONE), budget_key=self.budget_key
            )
            reasons[key] = GONE.get(answer.status_code)
        return reasons


@github.stream
class Comments(GitHubStream[Comment]):
    """issue comments of the configured repos"""

    name, entity, model, path = "comments", "comment", Comment, "repos/{scope}/issues/comments"
    volatile = frozenset({"updated_at"})
    delete_reason = "deleted"  # GitHub lists no comment tombstones; absence means deleted
    columns = ("repo", "issue_number", "author", "body", *STAMPS)

    def params(self, checkpoint: ScopeCheckpoint) -> dict[str, Any]:
        since = checkpoint.high_water
        return {"sort": "updated", "direction": "asc", "since": since, "per_page": 100}

    def prepare(self, record: Mapping[str, Any], scope: str) -> Mapping[str, Any]:
        return comment_record(record, scope)
