"""`POST /webhooks/linear` (DESIGN §8, vendors.md §4.2): the Linear sandbox is the sender.

The sandbox's `WebhookSender` POSTs its signed `Issue` deliveries over real HTTP to a running
`pipeline serve` on the test's clock (`webhookTimestamp` comes from the same `FakeClock` the server
checks it against); `flush()` waits until each was answered, then the test applies the inbox and,
where convergence is checked, polls the same sandbox.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from connectors.linear.sandbox import Sandbox, WebhookSender
from pipeline.subscriptions import Subscription, ensure_subscription
from pipeline.testing import Db
from tests.connectors.linear.conftest import entities, sync
from tests.webhooks.conftest import Served

SECRET = "lin-whsec-0123456789"
REF, OTHER = "ENG-3", "ENG-5"  # both live in the seed (ENG-4 is trashed)


class Recorder(httpx.HTTPTransport):
    """A real HTTP transport that keeps every request it sent (to send one again)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


class Hooks:
    """The sandbox sending its deliveries to `serve`; `deliver()` waits for them and applies."""

    def __init__(self, sandbox: Sandbox, served: Served, secret: str = SECRET) -> None:
        self.transport = Recorder()
        self.url = f"{served.url}/webhooks/linear"
        self.sender = WebhookSender(sandbox.store, self.url, secret, transport=self.transport)
        self.served = served

    def deliver(self) -> None:
        self.sender.flush()
        self.served.apply()

    def statuses(self) -> list[Any]:
        self.sender.flush()
        return [d.get("status", d.get("error")) for d in self.sender.sent]

    def post(self, body: bytes, **headers: str) -> httpx.Response:
        return httpx.post(self.url, content=body, headers=headers)


@pytest.fixture
def hooks(sandbox: Sandbox, served: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    monkeypatch.setenv("LINEAR_WEBHOOK_SECRET", SECRET)
    found = Hooks(sandbox, served)
    yield found
    found.sender.close()


def events(db: Db, key: str) -> list[dict[str, Any]]:
    return [e for e in db.events() if e["payload"]["externalId"] == key]


def types(db: Db, key: str) -> list[str]:
    return [e["type"] for e in events(db, key)]


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_create_then_title_edit_names_only_the_title(
    hooks: Hooks, sandbox: Sandbox, db: Db
) -> None:
    issue = sandbox.create_issue("ENG", "Born in a webhook", priority=2)
    hooks.deliver()
    db.clock.advance(5)
    sandbox.update_issue(issue["id"], title="Renamed in a webhook")
    hooks.deliver()

    assert hooks.statuses() == [200, 200]
    created, edited = events(db, issue["id"])
    assert (created["type"], edited["type"]) == ("issue_created", "issue_edited")
    assert edited["payload"]["changedFields"] == {
        "title": {"from": "Born in a webhook", "to": "Renamed in a webhook"}
    }
    assert entities(db)[issue["id"]]["data"]["priority"] == 2


def test_a_state_change_reads_by_name(hooks: Hooks, sandbox: Sandbox, db: Db) -> None:
    sync(db, sandbox)
    before = sandbox.issue(REF)
    sandbox.update_issue(REF, state="Done")

    hooks.deliver()

    [edited] = events(db, before["id"])[1:]
    changed = edited["payload"]["changedFields"]
    assert changed["state"] == {"from": before["state"]["name"], "to": "Done"}
    assert set(changed) <= {"state", "state_type", "completed_at", "canceled_at"}


@pytest.mark.parametrize(
    ("act", "reason"),
    [("archive", "archived"), ("trash", "trashed"), ("purge", "webhook")],
)
def test_archive_trash_and_delete_are_tombstones_with_the_polls_reasons(
    hooks: Hooks, sandbox: Sandbox, db: Db, act: str, reason: str
) -> None:
    sync(db, sandbox)
    key = sandbox.issue(REF)["id"]
    getattr(sandbox, act)(REF)

    hooks.deliver()

    assert types(db, key) == ["issue_created", "issue_deleted"]
    row = entities(db)[key]
    assert (row["delete_reason"], row["deleted_at"] is not None) == (reason, True)


def test_an_unarchived_issue_is_created_again(hooks: Hooks, sandbox: Sandbox, db: Db) -> None:
    sync(db, sandbox)
    key = sandbox.issue(REF)["id"]
    sandbox.archive(REF)
    hooks.deliver()
    db.clock.advance(5)
    sandbox.unarchive(REF)
    hooks.deliver()

    assert types(db, key) == ["issue_created", "issue_deleted", "issue_created"]
    assert entities(db)[key]["deleted_at"] is None


def test_webhook_then_poll_is_one_event_each(hooks: Hooks, sandbox: Sandbox, db: Db) -> None:
    sync(db, sandbox)
    edited, archived = sandbox.issue(REF)["id"], sandbox.issue(OTHER)["id"]
    sandbox.update_issue(REF, title="Seen by the webhook first", assignee="Grace Hopper")
    sandbox.archive(OTHER)
    created = sandbox.create_issue("DES", "New, seen by the webhook first")["id"]
    hooks.deliver()
    db.clock.advance(60)
    hashes = {k: r["content_hash"] for k, r in entities(db).items()}

    poll = sync(db, sandbox)

    # the webhook's record hashes as the poll's does: the poll stops at the hash gate
    assert {k: entities(db)[k]["content_hash"] for k in hashes} == hashes
    assert types(db, edited) == ["issue_created", "issue_edited"]
    assert types(db, archived) == ["issue_created", "issue_deleted"]
    assert types(db, created) == ["issue_created"]
    assert (poll.created, poll.updated, poll.deleted) == (0, 0, 0)


def test_poll_then_webhook_is_one_event_each(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sync(db, sandbox)
    key = sandbox.issue(REF)["id"]
    sandbox.update_issue(REF, priority=4, labels="Bug,Docs")
    sandbox.trash(OTHER)
    db.clock.advance(60)
    sync(db, sandbox)

    hooks.sender.flush()
    [run] = served.apply()

    assert types(db, key) == ["issue_created", "issue_edited"]
    assert types(db, sandbox.issue(OTHER)["id"]) == ["issue_created", "issue_deleted"]
    row = db.run_row(run.id)
    assert (row["created"], row["updated"], row["deleted"], row["noop"]) == (0, 0, 0, 2)


def test_a_field_the_payload_leaves_out_keeps_its_value(
    hooks: Hooks, sandbox: Sandbox, db: Db
) -> None:
    sandbox.update_issue(REF, assignee="Ada Lovelace", project="Billing v2", description="kept")
    hooks.deliver()
    node = sandbox.issue(REF)
    data = {k: v for k, v in node.items() if k not in ("project", "assignee", "description")}
    data |= {"title": "Sparse payload", "assigneeId": None}  # unassigned, named by id alone
    body = payload("update", data, db, updatedFrom={"title": node["title"]})

    answer = hooks.post(body, **headers(body, "sparse-1"))
    hooks.served.apply()

    assert answer.status_code == 200
    [edited] = events(db, node["id"])[1:]
    assert edited["payload"]["changedFields"] == {
        "title": {"from": node["title"], "to": "Sparse payload"},
        "assignee": {"from": "Ada Lovelace", "to": None},
        "assignee_id": {"from": node["assignee"]["id"], "to": None},
    }
    stored = entities(db)[node["id"]]["data"]
    assert (stored["description"], stored["project"]) == ("kept", "Billing v2")


def payload(action: str, data: dict[str, Any], db: Db, age_s: float = 0, **more: Any) -> bytes:
    sent_ms = int((db.clock.now().timestamp() - age_s) * 1000)
    body = {"action": action, "type": "Issue", "data": data, "webhookTimestamp": sent_ms, **more}
    return orjson.dumps(body)


def headers(body: bytes, delivery: str, secret: str = SECRET) -> dict[str, str]:
    return {"Linear-Delivery": delivery, "Linear-Signature": sign(body, secret)}


def test_a_replayed_delivery_is_200_and_changes_nothing(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sandbox.create_issue("OPS", "Delivered twice")
    hooks.deliver()
    [first] = hooks.transport.sent
    before = db.events()

    again = hooks.post(first.content, **dict(first.headers))
    served.apply()

    assert (again.status_code, again.json()) == (200, {"ok": True, "duplicate": True})
    assert db.events() == before and len(served.inbox()) == 1


@pytest.mark.parametrize(
    ("why", "age_s", "secret"),
    [("does not match", 0, "not-the-secret"), ("more than 60 s", 61, SECRET), ("missing", 0, None)],
)
def test_a_bad_stale_or_missing_signature_is_401_and_stores_nothing(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db, why: str, age_s: float, secret: Any
) -> None:
    body = payload("create", sandbox.issue(REF), db, age_s=age_s)
    sent = headers(body, "refused", secret or SECRET)
    if secret is None:
        del sent["Linear-Signature"]

    answer = hooks.post(body, **sent)

    assert answer.status_code == 401 and why in answer.json()["error"]
    assert SECRET not in answer.text
    assert served.inbox() == [] and served.apply() == []


def test_a_delivery_59_seconds_old_is_accepted(hooks: Hooks, sandbox: Sandbox, db: Db) -> None:
    body = payload("create", sandbox.issue(REF), db, age_s=59)

    assert hooks.post(body, **headers(body, "fresh-enough")).status_code == 200


def test_a_sandbox_with_the_wrong_secret_is_refused(
    sandbox: Sandbox, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINEAR_WEBHOOK_SECRET", SECRET)
    hooks = Hooks(sandbox, served, secret="wrong")
    sandbox.update_issue(REF, title="Refused")

    assert hooks.statuses() == [401]
    hooks.sender.close()
    assert served.inbox() == []


def test_other_types_are_acknowledged_and_not_kept(hooks: Hooks, db: Db, served: Served) -> None:
    body = orjson.dumps(
        {
            "action": "create",
            "type": "Comment",
            "data": {"id": "c1", "body": "hi"},
            "webhookTimestamp": int(db.clock.now().timestamp() * 1000),
        }
    )

    answer = hooks.post(body, **headers(body, "comment-1"))

    assert (answer.status_code, answer.json()) == (200, {"ok": True, "ignored": True})
    assert served.inbox() == []


@contextmanager
def held(sandbox: Sandbox, hooks: Hooks) -> Iterator[list[httpx.Request]]:
    """Deliveries made inside are held back by the network: the test sends them, late."""
    kept: list[httpx.Request] = []

    def hold(request: httpx.Request) -> httpx.Response:
        kept.append(request)
        return httpx.Response(202)

    holder = WebhookSender(sandbox.store, hooks.url, SECRET, transport=httpx.MockTransport(hold))
    try:
        yield kept
        holder.flush()
    finally:
        sandbox.store.on_change = hooks.sender.enqueue
        holder.close()


@pytest.mark.parametrize(
    ("act", "reason"), [("archive", "archived"), ("trash", "trashed"), ("purge", "webhook")]
)
def test_a_late_update_after_a_deletion_does_not_bring_the_issue_back(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db, act: str, reason: str
) -> None:
    """An update sent before the archive, trash or purge and delivered after it is only late."""
    sync(db, sandbox)
    key, title = sandbox.issue(REF)["id"], sandbox.issue(REF)["title"]
    with held(sandbox, hooks) as late:
        sandbox.update_issue(REF, title="Edited before it went")
    getattr(sandbox, act)(REF)
    hooks.deliver()

    assert hooks.post(late[0].content, **dict(late[0].headers)).json()["duplicate"] is False
    [run] = served.apply()

    row = entities(db)[key]
    assert (row["delete_reason"], row["data"]["title"]) == (reason, title)
    assert types(db, key) == ["issue_created", "issue_deleted"]
    assert (db.run_row(run.id)["noop"], db.run_row(run.id)["created"]) == (1, 0)
    assert {r["status"] for r in served.inbox()} == {"applied"}


@pytest.mark.parametrize("act", ["archive", "trash"])
def test_unarchive_restores_after_a_late_update_was_ignored(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db, act: str
) -> None:
    """The restoration itself (`updatedFrom` shows it archived or trashed) may undo the
    tombstone, even though a plain update may not."""
    sync(db, sandbox)
    key = sandbox.issue(REF)["id"]
    with held(sandbox, hooks) as late:
        sandbox.update_issue(REF, title="Edited before it went")
    getattr(sandbox, act)(REF)
    hooks.deliver()
    hooks.post(late[0].content, **dict(late[0].headers))
    served.apply()
    db.clock.advance(5)

    sandbox.unarchive(REF)
    hooks.deliver()

    row = entities(db)[key]
    assert (row["deleted_at"], row["data"]["title"]) == (None, "Edited before it went")
    assert types(db, key) == ["issue_created", "issue_deleted", "issue_created"]


def test_events_of_a_team_the_subscription_does_not_sync_write_nothing(
    hooks: Hooks, sandbox: Sandbox, served: Served, db: Db
) -> None:
    sub = Subscription("linear", "issues", config={"teams": ["ENG"]})
    ensure_subscription(db.engine, sub, db.clock.now())
    sandbox.update_issue("DES-2", title="Not synced")
    sandbox.create_issue("OPS", "Not synced either")
    sandbox.purge("DES-3")
    sandbox.update_issue(REF, title="Synced")

    hooks.deliver()

    assert list(entities(db)) == [sandbox.issue(REF)["id"]]
    assert [e["type"] for e in db.events()] == ["issue_created"]
    assert [r["status"] for r in served.inbox()] == ["applied"] * 4


def test_a_subscription_without_teams_takes_every_team(
    hooks: Hooks, sandbox: Sandbox, db: Db
) -> None:
    for team in ("ENG", "DES", "OPS"):
        sandbox.create_issue(team, f"In {team}")

    hooks.deliver()

    assert {r["team_key"] for r in entities(db).values()} == {"ENG", "DES", "OPS"}
