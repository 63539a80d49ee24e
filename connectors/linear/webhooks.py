"""Linear webhook deliveries (DESIGN §8, vendors.md §4.2) as changes to `linear-issues`.

Signature: `Linear-Signature: hex(HMAC-SHA256(secret, body))`; the body's `webhookTimestamp`
(Unix ms) must be within 60 s of now, a replay guard Linear asks receivers to apply. The delivery
id is the `Linear-Delivery` header. Only `type: "Issue"` is synced; other types are acknowledged.

`data` is the issue as it is now; it is cut down to the fields the poll's query selects and then
shaped by the poll's own model, so an issue seen by a webhook and by a poll hashes and diffs the
same: one event. A field `data` does not carry keeps its stored value (`updatedFrom` names what
changed; the diff finds the same fields). Tombstones follow the poll's reasons: `trashed` set →
`trashed`, `archivedAt` set → `archived` (Linear sends an archive as `update` or `remove`), and a
`remove` of an issue neither trashed nor archived (deleted for good) → `webhook`.

Deliveries may arrive late or out of order, and Linear, unlike Slack and GitHub, can undo a
deletion: an archived or trashed issue is restored (`issueUnarchive`, or from the trash within its
30 days, vendors.md §4.2). So whether an upsert may restore a tombstone is decided by what it says
(`restores`): only an `update` whose `updatedFrom` shows the issue was archived or trashed just
before, i.e. the restoration itself. Any other upsert (a `create`, a plain `update`) may be one sent
before the deletion and delivered after it: against a tombstone it is a noop, the poll restores an
issue it lists live. A purged issue never comes back; a late restoration delivered after a purge
would bring it back until the next complete walk sweeps it again (`purged`): the engine's
`restores` does not look at the tombstone's reason. Events of a team the subscription does not sync
(`teams`) are dropped by `in_scope`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from pipeline import (
    Change,
    PayloadError,
    SignatureError,
    WebhookChanges,
    WebhookRequest,
    check_hmac,
    check_window,
)

REPLAY_WINDOW_S = 60
ACTIONS = ("create", "update", "remove")
FIELDS = (  # what the poll's ISSUES_QUERY selects (graphql.py), so both paths hash alike
    "id", "identifier", "number", "title", "description", "priority", "estimate",
    "createdAt", "updatedAt", "archivedAt", "trashed", "completedAt", "canceledAt", "labelIds",
)  # fmt: skip
OBJECTS = {
    "state": ("id", "name", "type"),
    "team": ("id", "key", "name"),
    "assignee": ("id", "name", "email"),
    "project": ("id", "name"),
}


class LinearWebhooks:
    """`POST /webhooks/linear`: `Issue` create / update / remove."""

    connector = "linear"
    secret_env = "LINEAR_WEBHOOK_SECRET"

    def verify(self, request: WebhookRequest, secret: str, now: float) -> None:
        check_hmac(secret, request.body, request.headers.get("linear-signature"))
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return  # signed but not JSON: the receiver answers 400
        sent = payload.get("webhookTimestamp") if isinstance(payload, dict) else None
        if not isinstance(sent, int | float) or isinstance(sent, bool):
            raise SignatureError("webhookTimestamp is missing")
        check_window(sent / 1000, now, REPLAY_WINDOW_S)

    def handshake(self, payload: Any) -> Mapping[str, Any] | None:
        return None  # Linear sends no handshake

    def delivery_id(self, request: WebhookRequest, payload: Any) -> str:
        delivery = request.headers.get("linear-delivery")
        if not delivery:
            raise PayloadError("Linear-Delivery is missing")
        return delivery

    def changes(self, payload: Any) -> WebhookChanges | None:
        if not isinstance(payload, dict):
            raise PayloadError("expected a JSON object")
        if payload.get("type") != "Issue":
            return None  # comments, projects, …: not synced
        action, data = payload.get("action"), payload.get("data")
        if action not in ACTIONS:
            raise PayloadError(f"unknown action {action!r}")
        if not isinstance(data, dict):
            raise PayloadError("the payload has no data object")
        change = issue_change(str(action), data, payload.get("updatedFrom"))
        return WebhookChanges("issues", [change])

    def in_scope(self, change: Change, config: Mapping[str, Any]) -> bool:
        """Whether the subscription syncs the issue's team: its `teams` (keys), else every one.

        A tombstone names no team (a UUID is all it carries), so it is kept: one for an issue we
        do not hold writes nothing. So is an issue whose team key the payload leaves unsaid.
        """
        teams = config.get("teams")
        if not teams or change.record is None:
            return True
        if isinstance(teams, str):  # `--set teams=ENG,DES` before validation
            teams = teams.split(",")
        key = team_key(change.record)
        return key is None or key in {str(t).strip() for t in teams}


def issue_change(action: str, data: Mapping[str, Any], before: Any = None) -> Change:
    """One issue's change: a tombstone with the poll's reason, else its node, restoring a
    tombstone only when it is the issue's restoration (see the module's docstring)."""
    key = data.get("id")
    if not isinstance(key, str) or not key:
        raise PayloadError("the issue has no id")
    reason = delete_reason(action, data)
    if reason is not None:
        return Change.delete(key, reason)
    return Change(key, node(data), restores=action == "update" and was_deleted(before))


def was_deleted(before: Any) -> bool:
    """`updatedFrom` (the previous values) shows the issue archived or trashed: this update
    unarchived or untrashed it."""
    return isinstance(before, Mapping) and bool(before.get("archivedAt") or before.get("trashed"))


def team_key(record: Mapping[str, Any]) -> str | None:
    """The issue's team key: `team.key`, else the prefix of its identifier (`ENG-12` → `ENG`)."""
    team = record.get("team")
    if isinstance(team, Mapping) and team.get("key"):
        return str(team["key"])
    identifier = record.get("identifier")
    return (
        identifier.rsplit("-", 1)[0] if isinstance(identifier, str) and "-" in identifier else None
    )


def delete_reason(action: str, data: Mapping[str, Any]) -> str | None:
    """The poll's `deleted_when` (trashed, archived), and `remove` otherwise."""
    if data.get("trashed"):
        return "trashed"
    if data.get("archivedAt"):
        return "archived"
    return "webhook" if action == "remove" else None


def node(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` as the poll's query would see it: its selected fields, the ones `data` carries.

    A real Linear payload names related records by id too (`assigneeId`): an object it leaves
    out is taken from that id, so a reassignment is seen even without the object.
    """
    found = {name: data[name] for name in FIELDS if name in data}
    for name, fields in OBJECTS.items():
        value = data[name] if name in data else by_id(data, name)
        if value is not ... and isinstance(value, Mapping):
            found[name] = {f: value[f] for f in fields if f in value}
        elif value is None:
            found[name] = None
    if "identifier" not in found:  # older payloads lack it: the team key and number make it
        team, number = found.get("team") or {}, found.get("number")
        if team.get("key") and number is not None:
            found["identifier"] = f"{team['key']}-{int(number)}"
    return found


def by_id(data: Mapping[str, Any], name: str) -> Any:
    """`{"id": data["<name>Id"]}`, None when that id is null, `...` when there is none."""
    if f"{name}Id" not in data:
        return ...
    value = data[f"{name}Id"]
    return None if value is None else {"id": value}
