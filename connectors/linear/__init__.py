"""Linear: `linear-issues` over GraphQL (DESIGN §7; vendors.md §4.2).

One walk per team (`teams = ["ENG", …]`, or the whole workspace), newest update first: an
incremental walk asks for issues updated **or archived** since the high water − 5 min (archiving
may keep `updatedAt`); a complete walk (first sync, `--full-refresh`, every 24 h) sweeps issues
purged for good. `archivedAt` is a tombstone `archived`, `trashed` one `trashed`; an issue that
comes back is restored. Changes read by name: `state: {from: "Todo", to: "Done"}`.
"""

from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from pydantic import Field

from connectors.linear.graphql import ISSUES_QUERY, check, issue_filter
from connectors.linear.models import Issue
from connectors.linear.webhooks import LinearWebhooks
from pipeline import (
    ApiKey,
    Column,
    ConnectorConfig,
    RelayPaginator,
    RestStream,
    ScopeCheckpoint,
    connector,
)

PAGE_SIZE = 250  # ~1,900 complexity points a page, under the 10,000 per query (graphql.py)


class LinearConfig(ConnectorConfig):
    """`teams`: team keys to sync (default: every team the key can read); `page_size`: issues per
    request (complexity points scale with it; 250 is the most Linear serves)."""

    teams: list[str] | None = None
    page_size: int = Field(default=PAGE_SIZE, ge=1, le=250)


linear = connector(
    "linear",
    base_url="https://api.linear.app/graphql",
    auth=ApiKey(env="LINEAR_API_KEY"),  # a personal key goes bare, no `Bearer` (§4.2)
    api_url_env="LINEAR_API_URL",
    check=check,
    check_errors=True,  # RATELIMITED and AUTHENTICATION_ERROR come as HTTP 400 bodies
    config=LinearConfig,
    sandbox="connectors.linear.sandbox",
    description="Linear issues (GraphQL)",
)


@linear.stream
class Issues(RestStream[Issue]):
    """issues of every team (or `teams`); archived and trashed ones as tombstones"""

    name, entity, model = "issues", "issue", Issue
    method, path = "POST", ""
    budget_key = "graphql"  # one endpoint, one rate limit: RATELIMITED blocks the whole API
    records_at = "data.issues.nodes"
    paginator = RelayPaginator(page_info_at="data.issues.pageInfo")
    page_size_at = "variables.first"  # "too complex" → the same page with half as many issues
    high_water, lookback_s = "updatedAt", 300.0
    volatile = frozenset({"updatedAt", "updated_at"})  # raw (hash gate), canonical (diff) names
    unordered = frozenset({"labelIds", "label_ids"})
    scope_column = "team_key"
    delete_reason = "purged"  # absent from a complete walk: deleted for good after the trash
    columns = (
        "identifier", "team_key", "title", "state", "state_type", "priority", "estimate",
        "assignee_id", "project_id", "completed_at", "canceled_at", "archived_at",
        # the entity table's own created_at / updated_at are ours: Linear's get a prefix
        Column("issue_created_at", at="created_at", type=sa.DateTime(timezone=True)),
        Column("issue_updated_at", at="updated_at", type=sa.DateTime(timezone=True)),
    )  # fmt: skip

    def scopes(self) -> Sequence[str]:
        return list(cast(LinearConfig, self.config).teams or [""])

    def body(self, checkpoint: ScopeCheckpoint) -> dict[str, Any]:
        variables = {
            "first": cast(LinearConfig, self.config).page_size,
            "after": None,
            "filter": issue_filter(checkpoint.scope, checkpoint.high_water),
        }
        return {"query": ISSUES_QUERY, "variables": variables}

    def deleted_when(self, record: Mapping[str, Any]) -> str | None:
        if record.get("trashed"):
            return "trashed"
        return "archived" if record.get("archivedAt") else None


linear.webhook = LinearWebhooks()  # POST /webhooks/linear: `Issue` create / update / remove
