"""The Linear sandbox behaves like Linear where the connector can tell (vendors.md §4.2, §6.4):
paging, filters, archive / trash / purge, both rate budgets, complexity, faults, errors."""

from __future__ import annotations

import httpx
import pytest

from connectors.linear.sandbox import GRACE_S, OAUTH_TOKEN, Sandbox
from pipeline.testing import FakeClock

from .conftest import ISSUES_QUERY, page, walk

DAY_S = 86_400


def test_walk_pages_every_issue_once_most_recently_updated_first(sandbox: Sandbox) -> None:
    nodes = walk(sandbox, first=7)

    ids = [n["id"] for n in nodes]
    assert sorted(ids) == sorted(sandbox.store.issues) and len(set(ids)) == len(ids) == 60
    stamps = [n["updatedAt"] for n in nodes]
    assert stamps == sorted(stamps, reverse=True)
    assert sandbox.metrics()["calls"] == -(-60 // 7)


def test_cursor_is_key_set_so_an_insert_mid_walk_shifts_nothing(sandbox: Sandbox) -> None:
    first = page(sandbox, first=10)
    sandbox.create_issue("ENG", "Brand new")  # most recent: sorts before the cursor

    rest = walk_from(sandbox, first["pageInfo"]["endCursor"])

    seen = [n["id"] for n in first["nodes"] + rest]
    assert len(seen) == len(set(seen)) == 60


def walk_from(sandbox: Sandbox, after: str) -> list[dict[str, object]]:
    nodes: list[dict[str, object]] = []
    while after:
        issues = page(sandbox, 25, after)
        nodes += issues["nodes"]
        after = issues["pageInfo"]["endCursor"] if issues["pageInfo"]["hasNextPage"] else ""
    return nodes


def test_a_tampered_cursor_is_invalid_input(sandbox: Sandbox) -> None:
    cursor = page(sandbox, first=5)["pageInfo"]["endCursor"]

    response = sandbox.query(ISSUES_QUERY, {"first": 5, "after": cursor[:-1] + "0"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


def test_archived_and_trashed_issues_show_only_with_include_archived(sandbox: Sandbox) -> None:
    archived = [i for i in sandbox.store.issues.values() if i.archived_ms is not None]
    query = "{ issues(first: 250) { nodes { id } } }"

    default = sandbox.query(query).json()["data"]["issues"]["nodes"]

    assert archived and len(default) == 60 - len(archived)
    assert len(walk(sandbox)) == 60


def test_filters_on_updated_at_archived_at_and_team_keys(sandbox: Sandbox) -> None:
    week_ago = "2025-12-25T00:00:00.000Z"

    recent = walk(sandbox, updatedAt={"gte": week_ago})
    relative = walk(sandbox, updatedAt={"gte": "-P7D"})
    ops_or_des = walk(sandbox, team={"key": {"in": ["OPS", "DES"]}})
    either = walk(
        sandbox, **{"or": [{"archivedAt": {"null": False}}, {"updatedAt": {"gt": week_ago}}]}
    )

    assert recent and all(n["updatedAt"] >= week_ago for n in recent)
    assert [n["id"] for n in relative] == [n["id"] for n in recent]
    assert {n["team"]["key"] for n in ops_or_des} == {"OPS", "DES"} and len(ops_or_des) == 40
    assert all(n["archivedAt"] or n["updatedAt"] > week_ago for n in either)


def test_archiving_keeps_updated_at_and_shows_in_an_archived_at_query(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    before = sandbox.issue("ENG-1")
    clock.advance(60)

    sandbox.archive("ENG-1")

    after = sandbox.issue("ENG-1")
    assert (
        after["updatedAt"] == before["updatedAt"]
        and after["archivedAt"] == "2026-01-01T00:01:00.000Z"
    )
    since = walk(sandbox, updatedAt={"gt": "2026-01-01T00:00:30.000Z"})
    archived = walk(sandbox, archivedAt={"gt": "2026-01-01T00:00:30.000Z"})
    assert since == [] and [n["identifier"] for n in archived] == ["ENG-1"]


def test_the_switch_makes_archiving_bump_updated_at(clock: FakeClock) -> None:
    sandbox = Sandbox(seed=1, clock=clock, archive_bumps_updated_at=True)
    clock.advance(60)

    archived = sandbox.archive("ENG-1")

    assert archived["updatedAt"] == archived["archivedAt"] == "2026-01-01T00:01:00.000Z"


def test_trash_sets_trashed_and_archived_at_and_unarchive_restores(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    clock.advance(60)
    trashed = sandbox.trash("DES-2")
    clock.advance(60)

    restored = sandbox.unarchive("DES-2")

    assert (trashed["trashed"], trashed["archivedAt"]) == (True, "2026-01-01T00:01:00.000Z")
    assert (restored["trashed"], restored["archivedAt"]) == (None, None)
    assert restored["updatedAt"] == "2026-01-01T00:02:00.000Z"


def test_a_trashed_issue_is_purged_after_the_grace_period(sandbox: Sandbox) -> None:
    issue_id = sandbox.trash("OPS-3")["id"]

    sandbox.advance(GRACE_S - DAY_S)
    still_there = issue_id in {n["id"] for n in walk(sandbox)}
    sandbox.advance(DAY_S)

    assert still_there
    assert issue_id not in {n["id"] for n in walk(sandbox)}
    assert issue_id in sandbox.state()["purged"]


def test_purge_removes_an_issue_at_once(sandbox: Sandbox) -> None:
    issue_id = sandbox.issue("ENG-2")["id"]

    sandbox.purge("ENG-2")

    assert issue_id not in {n["id"] for n in walk(sandbox)}
    response = sandbox.query("query($id: String!) { issue(id: $id) { id } }", {"id": issue_id})
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


def test_updates_bump_updated_at_and_resolve_states_and_users_by_name(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    clock.advance(5)

    issue = sandbox.update_issue(
        "ENG-4", state="Done", assignee="grace@sandbox.test", priority=1, estimate=3
    )

    assert issue["state"]["name"] == "Done" and issue["completedAt"] == "2026-01-01T00:00:05.000Z"
    assert (issue["assignee"]["name"], issue["priority"], issue["estimate"]) == (
        "Grace Hopper",
        1.0,
        3.0,
    )
    assert issue["updatedAt"] == "2026-01-01T00:00:05.000Z"


def test_spent_request_budget_is_ratelimited_until_the_reset(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.set_limits(requests_per_hour=2)
    page(sandbox, 5)
    page(sandbox, 5)

    refused = sandbox.query(ISSUES_QUERY, {"first": 5})

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATELIMITED"
    assert refused.headers["x-ratelimit-requests-remaining"] == "0"
    reset_s = int(refused.headers["x-ratelimit-requests-reset"]) / 1000 - clock.now().timestamp()
    assert reset_s == pytest.approx(1800, abs=1)
    clock.advance(reset_s)
    assert page(sandbox, 5)["nodes"]


def test_ratelimited_status_is_configurable_to_429(sandbox: Sandbox) -> None:
    sandbox.set_limits(requests_per_hour=1, status=429)
    page(sandbox, 5)

    refused = sandbox.query(ISSUES_QUERY, {"first": 5})

    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATELIMITED"


def test_complexity_budget_is_spent_by_points_per_query(sandbox: Sandbox) -> None:
    sandbox.set_limits(complexity_per_hour=1000)

    cheap = sandbox.query(ISSUES_QUERY, {"first": 20})
    refused = sandbox.query(ISSUES_QUERY, {"first": 20})

    points = int(cheap.headers["x-complexity"])
    assert 400 < points < 1000 and cheap.headers["x-ratelimit-complexity-remaining"] == str(
        1000 - points
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATELIMITED"


def test_a_query_over_the_complexity_cap_is_refused_and_a_smaller_first_passes(
    sandbox: Sandbox,
) -> None:
    heavy = ISSUES_QUERY.replace("labels(first: 20)", "labels")  # labels default to 50 each

    refused = sandbox.query(heavy, {"first": 250})
    smaller = sandbox.query(heavy, {"first": 100})

    error = refused.json()["errors"][0]
    assert refused.status_code == 400 and "too complex" in error["message"]
    assert error["extensions"]["complexity"] > error["extensions"]["maxComplexity"] == 10_000
    assert smaller.status_code == 200 and int(smaller.headers["x-complexity"]) <= 10_000


def test_partial_failure_on_page_two_carries_data_and_errors(sandbox: Sandbox) -> None:
    sandbox.faults.partial(page=2, field="issues")
    cursor = page(sandbox, 10)["pageInfo"]["endCursor"]

    body = sandbox.query(ISSUES_QUERY, {"first": 10, "after": cursor}).json()

    assert len(body["data"]["issues"]["nodes"]) == 10
    [error] = body["errors"]
    assert error["path"] == ["issues", "nodes", 5, "assignee"]
    assert error["extensions"]["code"] == "INTERNAL_ERROR"


def test_unknown_field_is_a_400_validation_error(sandbox: Sandbox) -> None:
    response = sandbox.query("{ issues { nodes { id colour } } }")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (
        error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and "colour" in error["message"]
    )
    assert "data" not in response.json()


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        pytest.param(None, 400, id="missing"),
        pytest.param("lin_api_wrong", 400, id="wrong-key"),
        pytest.param("Bearer {token}", 400, id="personal-key-with-bearer"),
        pytest.param("{token}", 200, id="personal-key"),
        pytest.param(f"Bearer {OAUTH_TOKEN}", 200, id="oauth-bearer"),
    ],
)
def test_authorization_header_forms(
    sandbox: Sandbox, authorization: str | None, status: int
) -> None:
    with httpx.Client(transport=sandbox.transport()) as http:
        headers = (
            {"Authorization": authorization.format(token=sandbox.token)} if authorization else {}
        )
        response = http.post(sandbox.base_url, json={"query": "{ viewer { id } }"}, headers=headers)

    assert response.status_code == status
    if status == 400:
        assert response.json()["errors"][0]["extensions"]["code"] == "AUTHENTICATION_ERROR"


def test_5xx_and_timeouts_are_injected_without_sleeping(sandbox: Sandbox) -> None:
    sandbox.faults.fail(status=502)
    sandbox.faults.timeout(page=1)

    gateway = sandbox.query(ISSUES_QUERY, {"first": 5})
    with pytest.raises(httpx.ReadTimeout):
        sandbox.query(ISSUES_QUERY, {"first": 5})

    assert gateway.status_code == 502 and "text/html" in gateway.headers["content-type"]
    assert page(sandbox, 5)["nodes"]


def test_same_seed_same_workspace_other_seed_other_workspace(clock: FakeClock) -> None:
    one, again, other = Sandbox(3, clock), Sandbox(3, clock), Sandbox(4, clock)

    assert one.state() == again.state()
    assert one.state()["issues"] != other.state()["issues"]


def test_bulk_seed_adds_issues_that_a_full_walk_returns(sandbox: Sandbox) -> None:
    sandbox.bulk_seed(540)

    nodes = walk(sandbox, first=250)

    assert len(nodes) == len({n["id"] for n in nodes}) == 600
    assert sandbox.metrics()["calls"] == 3


def test_invalidated_cursors_are_refused(sandbox: Sandbox) -> None:
    cursor = page(sandbox, first=5)["pageInfo"]["endCursor"]

    sandbox.invalidate_cursors()
    response = sandbox.query(ISSUES_QUERY, {"first": 5, "after": cursor})

    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize("first", [0, 251], ids=["zero", "over-max"])
def test_first_out_of_range_is_invalid_input(sandbox: Sandbox, first: int) -> None:
    response = sandbox.query(ISSUES_QUERY, {"first": first})

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


def test_an_unparsable_date_is_invalid_input(sandbox: Sandbox) -> None:
    response = sandbox.query(ISSUES_QUERY, {"first": 5, "filter": {"updatedAt": {"gte": "soon"}}})

    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


def test_edges_and_created_at_order_and_default_page_of_fifty(sandbox: Sandbox) -> None:
    query = "{ issues(orderBy: createdAt, includeArchived: true) { edges { cursor node { createdAt } } } }"

    edges = sandbox.query(query).json()["data"]["issues"]["edges"]

    stamps = [e["node"]["createdAt"] for e in edges]
    assert len(edges) == 50 and stamps == sorted(stamps, reverse=True)
    assert all(e["cursor"] for e in edges)


def test_the_journal_records_each_call_with_fake_time_and_complexity(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    page(sandbox, 5)
    clock.advance(30)
    sandbox.query("{ nope }")

    first, second = sandbox.requests()
    assert (first["field"], first["page"], first["status"], first["errors"]) == (
        "issues",
        1,
        200,
        [],
    )
    assert int(first["complexity"]) > 0 and second["at"] - first["at"] == 30
    assert second["errors"] == ["GRAPHQL_VALIDATION_FAILED"]


def test_churn_edits_archives_and_trashes_a_seeded_share(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.bulk_seed(940)
    clock.advance(60)

    counts = sandbox.churn(seed=5, edit_ratio=0.1, archive_ratio=0.02, trash_ratio=0.01)

    changed = walk(sandbox, first=250, updatedAt={"gte": "2026-01-01T00:00:30.000Z"})
    archived = walk(sandbox, first=250, archivedAt={"gte": "2026-01-01T00:00:30.000Z"})
    assert 0 < counts["edited"] == len(changed)
    assert len(archived) == counts["archived"] + counts["trashed"] > 0
