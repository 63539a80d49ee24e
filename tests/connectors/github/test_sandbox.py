"""The GitHub sandbox behaves like GitHub where a sync depends on it (vendors.md §4.1, §6.3).

All in-process (httpx WSGI transport) and on a FakeClock: nothing here sleeps.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from connectors.github.sandbox import Sandbox, iso, parse_iso
from pipeline.testing import FakeClock

REPO = "octo-org/widgets"
ISSUES = f"/repos/{REPO}/issues"
ASC = {"state": "all", "sort": "updated", "direction": "asc"}


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=1)


@pytest.fixture
def http(sandbox: Sandbox) -> httpx.Client:
    return sandbox.client()


def links(response: httpx.Response) -> dict[str, str]:
    """rel → URL from the `Link` header ({} when absent)."""
    header = response.headers.get("link", "")
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header)}


def walk(http: httpx.Client, path: str, **params: Any) -> list[httpx.Response]:
    """Follow rel="next" to the end (never building a page URL by hand)."""
    responses = [http.get(path, params=params)]
    while "next" in links(responses[-1]):
        responses.append(http.get(links(responses[-1])["next"]))
    return responses


def numbers(responses: list[httpx.Response]) -> list[int]:
    return [i["number"] for r in responses for i in r.json()]


# -- seed and shapes ----------------------------------------------------------------------------


def test_same_seed_builds_identical_repos() -> None:
    assert Sandbox(seed=5).state() == Sandbox(seed=5).state()
    assert Sandbox(seed=5).state()["repos"] != Sandbox(seed=6).state()["repos"]


def test_issue_json_has_githubs_shape(http: httpx.Client) -> None:
    items = http.get(ISSUES, params={"state": "all", "per_page": 100}).json()
    issue, pr = (next(i for i in items if ("pull_request" in i) is p) for p in (False, True))

    assert isinstance(issue["id"], int) and issue["node_id"].startswith("I_kwDO")
    assert pr["node_id"].startswith("PR_kwDO") and set(pr["pull_request"]) >= {"url", "merged_at"}
    assert issue["performed_via_github_app"] is None and "closed_by" not in issue
    assert isinstance(issue["user"]["login"], str) and issue["html_url"].endswith(
        f"/issues/{issue['number']}"
    )
    for stamp in ("created_at", "updated_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", issue[stamp])
    states = {(i["state"], i["state_reason"]) for i in items}
    assert {("open", None), ("closed", "completed"), ("closed", "not_planned")} <= states
    assert any(i["labels"] for i in items) and any(i["assignees"] for i in items)
    assert any(i["comments"] for i in items) and any(i["body"] is None for i in items)


def test_direct_get_adds_closed_by(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.close(REPO, 1)

    body = http.get(f"{ISSUES}/1").json()

    assert body["closed_by"]["login"] == "sandbox-bot" and body["state_reason"] == "completed"


# -- listing, Link, since -----------------------------------------------------------------------


def test_link_pages_cover_the_listing_once(http: httpx.Client) -> None:
    pages = walk(http, ISSUES, per_page=7, **ASC)
    first, last = links(pages[0]), links(pages[-1])

    assert numbers(pages) == [
        i["number"] for i in http.get(ISSUES, params={**ASC, "per_page": 100}).json()
    ]
    assert len(pages) == 6 and set(first) == {"next", "last"} and set(last) == {"prev", "first"}
    assert "page=6" in first["last"] and "/repositories/" in first["next"]
    stamps = [i["updated_at"] for r in pages for i in r.json()]
    assert stamps == sorted(stamps)


def test_a_single_page_has_no_link_header(http: httpx.Client) -> None:
    response = http.get(ISSUES, params={**ASC, "per_page": 100})

    assert len(response.json()) == 40 and "link" not in response.headers


def test_per_page_defaults_to_30_and_is_clamped_to_100(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.bulk_seed(REPO, 200)

    assert len(http.get(ISSUES, params={"state": "all"}).json()) == 30
    assert len(http.get(ISSUES, params={"state": "all", "per_page": 1000}).json()) == 100


def test_pages_are_cut_over_live_data(sandbox: Sandbox, http: httpx.Client) -> None:
    """Page numbers index the live, sorted list, as on GitHub: an issue edited after its page was
    read moves to the end (seen twice), and the issue that slides onto the read page is skipped
    by this walk (the next page starts one item later)."""
    before = numbers([http.get(ISSUES, params={**ASC, "per_page": 100})])
    first = http.get(ISSUES, params={**ASC, "per_page": 10})
    moved = first.json()[0]["number"]
    sandbox.advance(60)
    sandbox.edit_issue(REPO, moved, title="edited mid-walk")

    walked = [first]
    while "next" in links(walked[-1]):
        walked.append(http.get(links(walked[-1])["next"]))

    seen = numbers(walked)
    assert seen.count(moved) == 2 and seen[-1] == moved
    assert set(before) - set(seen) == {before[10]}


def test_since_is_inclusive(sandbox: Sandbox, http: httpx.Client) -> None:
    issue = sandbox.issues(REPO)[4]
    stamp = iso(issue.updated_at)

    listed = http.get(ISSUES, params={**ASC, "since": stamp, "per_page": 100}).json()

    assert listed[0]["updated_at"] == stamp and issue.number in [i["number"] for i in listed]
    assert all(parse_iso(i["updated_at"]) >= issue.updated_at for i in listed)


def test_state_filter_and_bad_parameters(http: httpx.Client) -> None:
    assert {i["state"] for i in http.get(ISSUES, params={"per_page": 100}).json()} == {"open"}
    assert {i["state"] for i in http.get(ISSUES, params={"state": "closed"}).json()} == {"closed"}
    assert http.get(ISSUES, params={"state": "nope"}).status_code == 422
    assert http.get(ISSUES, params={"since": "yesterday"}).status_code == 422


def test_link_can_omit_last(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.set_limits(link_last=False)

    assert set(links(http.get(ISSUES, params={**ASC, "per_page": 7}))) == {"next"}


# -- comments -----------------------------------------------------------------------------------


def test_comment_listing_sorts_filters_and_pages(sandbox: Sandbox, http: httpx.Client) -> None:
    path = f"{ISSUES}/comments"
    pages = walk(http, path, sort="updated", direction="asc", per_page=10)
    ids = [c["id"] for r in pages for c in r.json()]
    stamps = [c["updated_at"] for r in pages for c in r.json()]
    middle = stamps[len(stamps) // 2]

    assert sorted(ids) == [c.id for c in sandbox.comments(REPO)] and stamps == sorted(stamps)
    since = http.get(
        path, params={"sort": "updated", "direction": "asc", "since": middle, "per_page": 100}
    ).json()
    assert since[0]["updated_at"] == middle and len(since) <= len(ids) // 2 + 3


def test_comment_get_and_per_issue_comments(sandbox: Sandbox, http: httpx.Client) -> None:
    comment = sandbox.add_comment(REPO, 2, "hello 👋")

    got = http.get(f"{ISSUES}/comments/{comment.id}").json()
    on_issue = http.get(f"{ISSUES}/2/comments").json()

    assert got["body"] == "hello 👋" and got["issue_url"].endswith("/issues/2")
    assert on_issue[-1]["id"] == comment.id and got["node_id"].startswith("IC_kwDO")
    assert http.get(f"{ISSUES}/2").json()["updated_at"] == iso(sandbox.now)


def test_edited_and_deleted_comments(sandbox: Sandbox, http: httpx.Client) -> None:
    comment = sandbox.comments(REPO)[0]
    sandbox.advance(30)
    sandbox.edit_comment(REPO, comment.id, "edited")
    edited = http.get(f"{ISSUES}/comments/{comment.id}").json()
    sandbox.delete_comment(REPO, comment.id)

    assert edited["body"] == "edited" and edited["updated_at"] == iso(sandbox.now)
    assert http.get(f"{ISSUES}/comments/{comment.id}").status_code == 404
    listed = http.get(f"{ISSUES}/comments", params={"per_page": 100}).json()
    assert comment.id not in [c["id"] for c in listed]


# -- deletes and transfers ----------------------------------------------------------------------


def test_deleted_issue_answers_410_and_leaves_listings(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.delete_issue(REPO, 3)

    response = http.get(f"{ISSUES}/3")

    assert response.status_code == 410 and response.json()["message"] == "This issue was deleted"
    assert 3 not in numbers(walk(http, ISSUES, per_page=100, **ASC))
    assert http.get(f"{ISSUES}/3/comments").status_code == 410
    assert http.get(f"{ISSUES}/999").status_code == 404


def test_transferred_issue_answers_301_with_location(sandbox: Sandbox, http: httpx.Client) -> None:
    moved = sandbox.transfer_issue(REPO, 4, "octo-org/gadgets")

    response = http.get(f"{ISSUES}/4")
    followed = http.get(response.headers["location"]).json()

    assert response.status_code == 301 and followed["id"] == moved.id
    assert followed["number"] == moved.number and "/octo-org/gadgets/" in followed["url"]
    assert 4 not in numbers(walk(http, ISSUES, per_page=100, **ASC))


def test_reopen_and_label_changes_bump_updated_at(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.advance(10)
    sandbox.close(REPO, 6, "not_planned")
    sandbox.advance(10)
    sandbox.reopen(REPO, 6)
    sandbox.add_label(REPO, 6, "needs triage")

    issue = http.get(f"{ISSUES}/6").json()

    assert (issue["state"], issue["state_reason"], issue["closed_at"]) == ("open", "reopened", None)
    assert "needs triage" in [lb["name"] for lb in issue["labels"]]
    assert issue["updated_at"] == iso(sandbox.now)


# -- ETag and 304 -------------------------------------------------------------------------------


def test_etag_gives_304_that_costs_no_primary_budget(sandbox: Sandbox, http: httpx.Client) -> None:
    first = http.get(ISSUES, params=ASC)
    again = http.get(ISSUES, params=ASC, headers={"If-None-Match": first.headers["etag"]})

    assert again.status_code == 304 and again.content == b""
    assert again.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"] == "1"
    assert again.headers["etag"] == first.headers["etag"]


def test_a_change_changes_the_etag(sandbox: Sandbox, http: httpx.Client) -> None:
    first = http.get(ISSUES, params=ASC)
    sandbox.edit_issue(REPO, 1, body="new body")

    again = http.get(ISSUES, params=ASC, headers={"If-None-Match": first.headers["etag"]})

    assert again.status_code == 200 and again.headers["etag"] != first.headers["etag"]


def test_if_modified_since_on_a_single_issue(http: httpx.Client) -> None:
    first = http.get(f"{ISSUES}/1")

    again = http.get(f"{ISSUES}/1", headers={"If-Modified-Since": first.headers["last-modified"]})

    assert again.status_code == 304


# -- auth ---------------------------------------------------------------------------------------


def test_bearer_and_token_schemes_and_bad_credentials(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url, transport=sandbox.transport()) as raw:
        assert (
            raw.get("/user", headers={"Authorization": f"token {sandbox.token}"}).json()["login"]
            == "sandbox-bot"
        )
        assert (
            raw.get("/user", headers={"Authorization": f"Bearer {sandbox.token}"}).status_code
            == 200
        )
        bad = raw.get(ISSUES, headers={"Authorization": "Bearer wrong"})
        missing = raw.get(ISSUES)

    assert bad.status_code == missing.status_code == 401
    assert bad.json()["message"] == "Bad credentials" and "x-ratelimit-limit" in bad.headers


# -- primary and secondary limits ---------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
def test_primary_limit_exhausts_then_resets_on_the_fake_clock(
    sandbox: Sandbox, http: httpx.Client, status: int
) -> None:
    sandbox.set_limits(primary_limit=3, primary_status=status)
    answers = [http.get(f"{ISSUES}/1") for _ in range(4)]
    limited = answers[-1]
    reset = int(limited.headers["x-ratelimit-reset"])

    assert [a.status_code for a in answers] == [200, 200, 200, status]
    assert (
        limited.headers["x-ratelimit-remaining"] == "0"
        and limited.headers["x-ratelimit-used"] == "3"
    )
    assert (
        "API rate limit exceeded" in limited.json()["message"]
        and "retry-after" not in limited.headers
    )
    assert (
        http.get("/rate_limit").json()["resources"]["core"]["remaining"] == 0
    )  # free, never limited
    sandbox.advance(reset - sandbox.now)
    assert http.get(f"{ISSUES}/1").headers["x-ratelimit-remaining"] == "2"


@pytest.mark.parametrize(("retry_after", "status"), [(True, 403), (False, 429)])
def test_secondary_limit_with_or_without_retry_after(
    sandbox: Sandbox, http: httpx.Client, retry_after: bool, status: int
) -> None:
    sandbox.set_limits(
        secondary_points=2, secondary_status=status, secondary_retry_after=retry_after
    )
    answers = [http.get(f"{ISSUES}/1") for _ in range(3)]
    limited = answers[-1]

    assert [a.status_code for a in answers] == [200, 200, status]
    assert "secondary rate limit" in limited.json()["message"]
    assert ("retry-after" in limited.headers) is retry_after
    assert limited.headers["x-ratelimit-remaining"] != "0"
    sandbox.advance(60)
    assert http.get(f"{ISSUES}/1").status_code == 200


# -- faults -------------------------------------------------------------------------------------


def test_5xx_on_the_nth_call_to_a_route_and_page(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.faults.fail(500, route="list_issues", page=2)
    sandbox.faults.fail(502, path="/repos/*/issues/1", skip=1)

    pages = [http.get(ISSUES, params={**ASC, "per_page": 10, "page": n}) for n in (1, 2, 2)]
    singles = [http.get(f"{ISSUES}/1").status_code for _ in range(3)]

    assert [p.status_code for p in pages] == [200, 500, 200] and singles == [200, 502, 200]
    assert sandbox.metrics()["statuses"]["500"] == 1


def test_timeout_raises_in_process_without_sleeping(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.faults.timeout(route="get_issue")

    with pytest.raises(httpx.ReadTimeout):
        http.get(f"{ISSUES}/1")
    assert http.get(f"{ISSUES}/1").status_code == 200


def test_secondary_and_primary_faults(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.faults.secondary(retry_after_s=None, route="get_issue")
    sandbox.faults.primary(status=429, route="list_issues")

    secondary, primary = http.get(f"{ISSUES}/1"), http.get(ISSUES)

    assert secondary.status_code == 403 and "retry-after" not in secondary.headers
    assert primary.status_code == 429 and primary.headers["x-ratelimit-remaining"] == "0"
    limited = http.get(f"{ISSUES}/1")  # the window stays spent until its reset
    assert limited.status_code == 403 and limited.headers["x-ratelimit-remaining"] == "0"


def test_bad_json_fault(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.faults.bad_json(route="list_issues")

    with pytest.raises(ValueError):
        http.get(ISSUES).json()


# -- control plane ------------------------------------------------------------------------------


def test_control_plane_takes_json_and_form_bodies(sandbox: Sandbox, http: httpx.Client) -> None:
    created = http.post(
        "/_sandbox/create_issue", json={"repo": REPO, "title": "via JSON", "labels": ["bug"]}
    )
    number = created.json()["issue"]["number"]
    http.post(
        "/_sandbox/add_label", data={"repo": REPO, "number": str(number), "label": "help wanted"}
    )
    http.post(
        "/_sandbox/close", data={"repo": REPO, "number": str(number), "reason": "not_planned"}
    )
    comment = http.post(
        "/_sandbox/add_comment", data={"repo": REPO, "number": str(number), "body": "form"}
    )
    http.post("/_sandbox/delete_issue", json={"repo": REPO, "number": 1})

    issue = http.get(f"{ISSUES}/{number}").json()
    assert [lb["name"] for lb in issue["labels"]] == ["bug", "help wanted"] and issue[
        "comments"
    ] == 1
    assert issue["state_reason"] == "not_planned" and comment.json()["ok"]
    assert http.get(f"{ISSUES}/1").status_code == 410


def test_control_plane_clock_limits_faults_and_reads(sandbox: Sandbox, http: httpx.Client) -> None:
    before = sandbox.now
    assert http.post("/_sandbox/clock", data={"advance": "90"}).json()["now"] == before + 90
    http.post("/_sandbox/limits", data={"primary_limit": "1", "primary_status": "429"})
    http.post(
        "/_sandbox/fault",
        data={"kind": "http_error", "status": "503", "route": "user", "times": "2"},
    )

    assert [http.get("/user").status_code for _ in range(3)] == [503, 503, 429]
    journal = http.get("/_sandbox/requests").json()["requests"]
    assert [r["status"] for r in journal][-3:] == [503, 503, 429] and journal[-1][
        "at"
    ] == before + 90
    assert http.get("/_sandbox/metrics").json()["primary_limited"] == 1
    assert http.get("/_sandbox/state").json()["repos"][REPO]["issues"][0]["number"] == 1


def test_control_plane_rejects_bad_input_in_one_line(http: httpx.Client) -> None:
    missing = http.post("/_sandbox/close", json={"repo": REPO})
    unknown = http.post("/_sandbox/nope", json={})
    bad_kind = http.post("/_sandbox/fault", json={"kind": "meteor"})

    assert missing.status_code == 400 and "number" in missing.json()["error"]
    assert unknown.status_code == 404 and bad_kind.status_code == 400


def test_bulk_seed_builds_ten_thousand_issues() -> None:
    sandbox = Sandbox(seed=3, repos=("big/repo",), issues_per_repo=0)
    sandbox.bulk_seed("big/repo", 10_000)

    with sandbox.client() as http:
        first = http.get("/repos/big/repo/issues", params={**ASC, "per_page": 100})
        last = http.get(links(first)["last"])

    assert "page=100" in links(first)["last"] and len(last.json()) == 100
    assert last.json()[-1]["updated_at"] <= iso(sandbox.now)


def test_sandbox_shares_the_clients_fake_clock() -> None:
    clock = FakeClock()
    sandbox = Sandbox(seed=1, clock=clock)
    clock.sleep(120)

    assert sandbox.now == clock.now().timestamp() and sandbox.http_clock is clock
    sandbox.advance(5)
    assert clock.now().timestamp() == sandbox.now


def test_concurrency_cap_is_a_secondary_limit(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.set_limits(concurrency=0)  # every request is over the cap

    limited = http.get(f"{ISSUES}/1")

    assert limited.status_code == 403 and limited.headers["retry-after"] == "60"
    assert "secondary rate limit" in limited.json()["message"]
