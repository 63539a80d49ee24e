"""Linear sandbox fixtures: a seeded sandbox on the test's FakeClock, and a GraphQL walk helper."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.linear.sandbox import Sandbox
from pipeline.testing import FakeClock

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
