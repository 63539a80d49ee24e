"""Linear fixtures: a seeded sandbox on the test's FakeClock (shared with the engine, so a wait
on a rate-limit reset moves both), GraphQL page helpers, and `sync` (one linear-issues run)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.linear.sandbox import Sandbox
from pipeline.ledger import Run
from pipeline.orchestrator import RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.testing import Db, FakeClock
from tests.webhooks.conftest import served  # noqa: F401  (fixture: `pipeline serve` on a free port)

# The page query the connector sends (DESIGN §7): every field the stream reads, labels capped.
ISSUES_QUERY = """
query Issues($first: Int!, $after: String, $filter: IssueFilter) {
  issues(first: $first, after: $after, orderBy: updatedAt, includeArchived: true, filter: $filter) {
    nodes {
      id identifier number title description priority estimate
      createdAt updatedAt archivedAt trashed completedAt canceledAt
      state { id name type }
      team { id key name }
      assignee { id name email }
      project { id name }
      labels(first: 20) { nodes { id name } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(seed=1, clock=clock)


def page(
    sandbox: Sandbox, first: int = 50, after: str | None = None, **filter: Any
) -> dict[str, Any]:
    """One page of ISSUES_QUERY; asserts a clean 200 answer and returns `data.issues`."""
    response = sandbox.query(
        ISSUES_QUERY, {"first": first, "after": after, "filter": filter or None}
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return dict(body["data"]["issues"])


def walk(sandbox: Sandbox, first: int = 50, **filter: Any) -> list[dict[str, Any]]:
    """Every node of a complete walk, following endCursor while hasNextPage."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        issues = page(sandbox, first, after, **filter)
        nodes += issues["nodes"]
        if not issues["pageInfo"]["hasNextPage"]:
            return nodes
        after = issues["pageInfo"]["endCursor"]


def sync(db: Db, sandbox: Sandbox, full_refresh: bool = False, **config: Any) -> Run:
    """One `linear-issues` run against the in-process sandbox, on the test's (shared) clock."""
    settings = {
        "transport": sandbox.transport(),
        "api_url": sandbox.base_url,
        "token": sandbox.token,
        "http_clock": sandbox.clock,
    }
    options = RunOptions(settings=settings, full_refresh=full_refresh)
    subscription = Subscription("linear", "issues", config=config)
    return db.orchestrator.run(get_stream("linear-issues"), subscription, options=options)


def entities(db: Db) -> dict[str, dict[str, Any]]:
    return db.entities(get_stream("linear-issues").table)
