"""`POST /webhooks/github` (DESIGN §8, vendors.md §4.1): the GitHub sandbox is the sender.

The sandbox POSTs its signed `issues` / `issue_comment` deliveries over real HTTP to a running
`pipeline serve` (`send_webhooks(..., inline=True)`: each mutation returns once its delivery was
answered); the test then applies the inbox, and polls the same sandbox where convergence is checked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from connectors.github.sandbox import Sandbox
from connectors.github.sandbox.webhooks import WebhookSender, signature
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription, ensure_subscription
from pipeline.testing import Db
from tests.connectors.github.conftest import REPO, REPOS, sync
from tests.webhooks.conftest import Served

SECRET = "gh-whsec-0123456789"
ISSUES, COMMENTS = get_stream("github-issues").table, get_stream("github-comments").table


class Hooks:
    """The sandbox's deliveries to `serve`, each request kept so a test can send it again."""

    def __init__(self, sandbox: Sandbox, served: Served, secret: str = SECRET) -> None:
        self.sent: list[httpx.Request] = []
        self.client = httpx.Client(event_hooks={"request": [self.sent.append]})
        self.url = f"{served.url}/webhooks/github"
        self.sender: WebhookSender = sandbox.send_webhooks(
            self.url, secret=secret, client=self.client, inline=True
        )

    def statuses(self) -> list[Any]:
        return [d["status"] for d in self.sender.deliveries]

    def close(self) -> None:
        self.sender.close()  # closes `client`

    def resend(self, request: httpx.Request) -> httpx.Response:
        return self.client.post(self.url, content=request.content, headers=request.headers)


@pytest.fixture
def hooks(sandbox: Sandbox, served: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.delenv("GITHUB_APP_ID", raising=False)
    found = Hooks(sandbox, served)
    yield found
    found.close()


def events(db: Db, key: str | int) -> list[dict[str, Any]]:
    return [e for e in db.events() if e["payload"]["externalId"] == str(key)]


def counts(db: Db) -> Counter[tuple[str, str]]:
    return Counter((e["payload"]["externalId"], e["type"]) for e in db.events())


def test_an_edit_is_one_issue_edited_event_naming_the_title(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sync(db, sandbox, repos=[REPO])
    issue = sandbox.issue(REPO, 1)
    sandbox.edit_issue(REPO, 1, title="Renamed by a webhook")

    [run] = served.apply()

    assert hooks.statuses() == [200]
    [event] = events(db, issue.id)[-1:]
    assert event["type"] == "issue_edited"
    assert set(event["payload"]["changedFields"]) == {"title"}
    assert event["payload"]["changedFields"]["title"]["to"] == "Renamed by a webhook"
    assert db.run_row(run.id)["updated"] == 1


def test_opened_labeled_closed_deleted_each_give_their_event(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    issue = sandbox.create_issue(REPO, "Fresh from a webhook")
    served.apply()
    sandbox.add_label(REPO, issue.number, "urgent")
    served.apply()
    sandbox.close(REPO, issue.number, "not_planned")
    served.apply()
    sandbox.delete_issue(REPO, issue.number)
    served.apply()

    found = events(db, issue.id)
    assert [e["type"] for e in found] == [
        "issue_created",
        "issue_edited",
        "issue_edited",
        "issue_deleted",
    ]
    assert found[1]["payload"]["changedFields"] == {"labels": {"from": [], "to": ["urgent"]}}
    assert set(found[2]["payload"]["changedFields"]) == {"state", "state_reason", "closed_at"}
    row = db.entities(ISSUES)[str(issue.id)]
    assert (row["delete_reason"], row["deleted_at"] is not None) == ("webhook", True)


def test_a_transferred_issue_is_a_tombstone_transferred(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sync(db, sandbox, repos=[REPO])
    issue = sandbox.issue(REPO, 2)
    sandbox.transfer_issue(REPO, 2, "octo-org/gadgets")

    served.apply()

    assert [e["type"] for e in events(db, issue.id)][-1] == "issue_deleted"
    assert db.entities(ISSUES)[str(issue.id)]["delete_reason"] == "transferred"


def test_comment_created_edited_deleted(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    comment = sandbox.add_comment(REPO, 1, "first words")
    sandbox.edit_comment(REPO, comment.id, "second thoughts")
    served.apply()  # created and edited in one batch: one created, with the edited body
    sandbox.edit_comment(REPO, comment.id, "third time")
    served.apply()
    sandbox.delete_comment(REPO, comment.id)
    served.apply()

    found = events(db, comment.id)
    assert [e["type"] for e in found] == ["comment_created", "comment_edited", "comment_deleted"]
    assert found[1]["payload"]["changedFields"] == {
        "body": {"from": "second thoughts", "to": "third time"}
    }
    row = db.entities(COMMENTS)[str(comment.id)]
    assert (row["data"]["issue_number"], row["delete_reason"]) == (1, "webhook")


def test_webhook_then_poll_is_one_event(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sync(db, sandbox, repos=[REPO])
    sync(db, sandbox, "github-comments", repos=[REPO])
    issue = sandbox.issue(REPO, 3)
    sandbox.edit_issue(REPO, 3, body="edited body")
    comment = sandbox.add_comment(REPO, 3, "a comment")
    served.apply()
    db.clock.advance(60)
    before = [db.entities(ISSUES)[str(issue.id)], db.entities(COMMENTS)[str(comment.id)]]

    issues = sync(db, sandbox, repos=[REPO])
    comments = sync(db, sandbox, "github-comments", repos=[REPO])

    # the webhook's records hash as the poll's do: the poll stops at the hash gate
    after = [db.entities(ISSUES)[str(issue.id)], db.entities(COMMENTS)[str(comment.id)]]
    assert [r["content_hash"] for r in after] == [r["content_hash"] for r in before]

    assert [e["type"] for e in events(db, issue.id)] == ["issue_created", "issue_edited"]
    assert [e["type"] for e in events(db, comment.id)] == ["comment_created"]
    assert (issues.updated, comments.created) == (0, 0)


def test_poll_then_webhook_is_one_event(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sync(db, sandbox, repos=[REPO])
    issue = sandbox.issue(REPO, 4)
    sandbox.assign(REPO, 4, "octocat")
    db.clock.advance(60)
    sync(db, sandbox, repos=[REPO])

    [run] = served.apply()

    assert [e["type"] for e in events(db, issue.id)] == ["issue_created", "issue_edited"]
    assert (db.run_row(run.id)["updated"], db.run_row(run.id)["noop"]) == (0, 1)


def test_a_replayed_delivery_is_200_and_changes_nothing(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sandbox.edit_issue(REPO, 5, title="Once")
    served.apply()
    before = counts(db)

    again = hooks.resend(hooks.sent[-1])
    served.apply()

    assert (again.status_code, again.json()) == (200, {"ok": True, "duplicate": True})
    assert counts(db) == before and len(served.inbox()) == 1


@pytest.mark.parametrize("secret", ["not-the-secret", None])
def test_a_bad_or_missing_signature_is_401_and_stores_nothing(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db, secret: str | None
) -> None:
    hooks.sent.clear()
    sandbox.edit_issue(REPO, 6, title="Once")
    request = hooks.sent[-1]
    headers = {k: v for k, v in request.headers.items() if k != "x-hub-signature-256"}
    if secret is not None:
        headers["x-hub-signature-256"] = signature(secret, request.content)

    answer = httpx.post(hooks.url, content=request.content, headers=headers)

    assert answer.status_code == 401
    assert SECRET not in answer.text and "signature" in answer.json()["error"]
    assert len(served.inbox()) == 1  # only the sandbox's own, correctly signed delivery


def test_a_sandbox_with_the_wrong_secret_is_refused(
    sandbox: Sandbox, served: Served, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    hooks = Hooks(sandbox, served, secret="wrong")
    sandbox.edit_issue(REPO, 1, title="Refused")
    hooks.close()

    assert hooks.statuses() == [401]
    assert served.inbox() == [] and served.apply() == []


def test_ping_is_answered_and_stored_nowhere(hooks: Hooks, served: Served) -> None:
    body = b'{"zen":"Keep it logically awesome.","hook_id":1,"hook":{"type":"Repository"}}'
    headers = {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "ping-1",
        "X-Hub-Signature-256": signature(SECRET, body),
    }

    answer = httpx.post(hooks.url, content=body, headers=headers)

    assert (answer.status_code, answer.json()) == (200, {"ok": True, "ping": True})
    assert served.inbox() == []


def test_our_own_apps_write_is_skipped_with_no_event(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = sandbox.create_issue(REPO, "Our bot says hi", via_app="pipeline-bot")
    app_id = _app_id(hooks.sent[-1])
    monkeypatch.setenv("GITHUB_APP_ID", f"{app_id}, 99")
    theirs = sandbox.create_issue(REPO, "Another app says hi", via_app="other-app")

    said = sandbox.add_comment(REPO, 1, "Our bot comments", via_app="pipeline-bot")

    issues, comments = served.apply()

    row = db.run_row(issues.id)
    assert (row["created"], row["skipped"], row["status"]) == (1, 1, "success")
    assert (db.run_row(comments.id)["skipped"], events(db, said.id)) == (1, [])
    assert events(db, ours.id) == [] and len(events(db, theirs.id)) == 1
    [skipped] = [i for i in db.items(issues.id) if i["external_id"] == str(ours.id)]
    assert (skipped["status"], skipped["operation"]) == ("skipped", "created")
    assert str(ours.id) not in db.entities(ISSUES)


def test_a_persons_edit_of_an_issue_our_app_opened_is_not_skipped(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`performed_via_github_app` stays on a record its App created; the sender tells who acted."""
    ours = sandbox.create_issue(REPO, "Our bot says hi", via_app="pipeline-bot")
    monkeypatch.setenv("GITHUB_APP_ID", str(_app_id(hooks.sent[-1])))
    served.apply()
    sandbox.edit_issue(REPO, ours.number, title="A person retitled it")

    [run] = served.apply()

    assert [e["type"] for e in events(db, ours.id)] == ["issue_created"]
    assert db.run_row(run.id)["skipped"] == 0


def _app_id(request: httpx.Request) -> int:
    body = httpx.Response(200, content=request.content).json()
    return int(body["issue"]["performed_via_github_app"]["id"])


def test_a_review_comment_is_acknowledged_and_not_kept(hooks: Hooks, served: Served) -> None:
    """`pull_request_review_comment` carries a `comment` but no `issue`: not `issue_comment`."""
    body = orjson.dumps(
        {
            "action": "created",
            "comment": {"id": 7, "body": "nit"},
            "pull_request": {"id": 8, "number": 3},
            "repository": {"full_name": REPO},
        }
    )
    headers = {"X-GitHub-Delivery": "review-1", "X-Hub-Signature-256": signature(SECRET, body)}

    answer = httpx.post(hooks.url, content=body, headers=headers)

    assert (answer.status_code, answer.json()) == (200, {"ok": True, "ignored": True})
    assert served.inbox() == []


@contextmanager
def held(sandbox: Sandbox, hooks: Hooks) -> Iterator[list[httpx.Request]]:
    """Deliveries made inside are held back by the network: the test sends them, late."""
    kept: list[httpx.Request] = []

    def hold(request: httpx.Request) -> httpx.Response:
        kept.append(request)
        return httpx.Response(202)

    client = httpx.Client(transport=httpx.MockTransport(hold))
    # the sender makes its delivery ids from its url: another url, other ids than the live one's
    url = f"{hooks.url}?held"
    holder = WebhookSender(
        sandbox.world, url, secret=SECRET, root=sandbox.base_url, client=client, inline=True
    )
    listeners = sandbox.world.listeners
    listeners[listeners.index(hooks.sender)] = holder
    try:
        yield kept
    finally:
        listeners[listeners.index(holder)] = hooks.sender
        holder.close()


@pytest.mark.parametrize(("act", "reason"), [("delete", "webhook"), ("transfer", "transferred")])
def test_a_late_edit_after_a_deletion_or_transfer_does_not_bring_the_issue_back(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db, act: str, reason: str
) -> None:
    """GitHub never undoes either under the same id (vendors.md §4.1): the edit is only late."""
    issue = sandbox.create_issue(REPO, "Soon gone")
    served.apply()
    with held(sandbox, hooks) as late:
        sandbox.edit_issue(REPO, issue.number, title="Edited before it went")
    if act == "delete":
        sandbox.delete_issue(REPO, issue.number)
    else:
        sandbox.transfer_issue(REPO, issue.number, "octo-org/elsewhere")
    served.apply()

    assert hooks.resend(late[0]).json() == {"ok": True, "duplicate": False}
    [run] = served.apply()

    row = db.entities(ISSUES)[str(issue.id)]
    assert (row["delete_reason"], row["data"]["title"]) == (reason, "Soon gone")
    assert [e["type"] for e in events(db, issue.id)] == ["issue_created", "issue_deleted"]
    assert (db.run_row(run.id)["noop"], db.run_row(run.id)["created"]) == (1, 0)
    assert {r["status"] for r in served.inbox()} == {"applied"}


def test_a_late_comment_edit_after_its_deletion_keeps_it_deleted(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    comment = sandbox.add_comment(REPO, 1, "first words")
    served.apply()
    with held(sandbox, hooks) as late:
        sandbox.edit_comment(REPO, comment.id, "second thoughts")
    sandbox.delete_comment(REPO, comment.id)
    served.apply()

    hooks.resend(late[0])
    served.apply()

    row = db.entities(COMMENTS)[str(comment.id)]
    assert (row["delete_reason"], row["data"]["body"]) == ("webhook", "first words")
    assert [e["type"] for e in events(db, comment.id)] == ["comment_created", "comment_deleted"]


def test_a_reopen_after_a_close_applies(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    """A closed issue is no tombstone: reopening it is an edit."""
    sync(db, sandbox, repos=[REPO])
    issue = sandbox.close(REPO, 7)
    served.apply()
    sandbox.reopen(REPO, 7)
    served.apply()

    row = db.entities(ISSUES)[str(issue.id)]
    assert (row["deleted_at"], row["data"]["state"]) == (None, "open")
    assert [e["type"] for e in events(db, issue.id)] == ["issue_created", *["issue_edited"] * 2]


def test_events_of_a_repo_the_subscription_does_not_sync_write_nothing(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    for stream in ("issues", "comments"):
        sub = Subscription("github", stream, config={"repos": [REPO.upper()]})
        ensure_subscription(db.engine, sub, db.clock.now())
    other = "octo-org/gadgets"
    ours, theirs = sandbox.create_issue(REPO, "In scope"), sandbox.create_issue(other, "Not")
    sandbox.add_comment(other, 1, "not synced")
    sandbox.delete_issue(other, 2)

    _, comments = served.apply()

    assert set(db.entities(ISSUES)) == {str(ours.id)} and db.entities(COMMENTS) == {}
    assert [e["type"] for e in db.events()] == ["issue_created"]
    assert events(db, theirs.id) == [] and db.run_row(comments.id)["status"] == "no_changes"
    assert {r["status"] for r in served.inbox()} == {"applied"}


def test_a_subscription_without_repos_takes_every_repo(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sandbox.create_issue(REPO, "Here")
    sandbox.create_issue("octo-org/gadgets", "And there")

    served.apply()

    assert {r["data"]["repo"] for r in db.entities(ISSUES).values()} == set(REPOS)
