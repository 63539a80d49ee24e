"""Slack Events API deliveries (DESIGN §8, vendors.md §1.7) as changes to `slack-messages`.

Signature: `X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))`, the timestamp
within 5 minutes. The delivery id is the envelope's `event_id`. A new message or thread reply is
the message itself; `message_changed` (and `message_replied`) carry the message under `message`;
`message_deleted` names it by `deleted_ts`; a parent deleted with replies left comes back as a
`tombstone`, a deletion too (vendors.md §1.4). A field an event does not carry keeps its stored value
(the engine's rule for absent keys): Slack events are hints that may arrive late or out of order
(vendors.md §1.7): so an event never restores a message we hold deleted (Slack cannot undelete
one; the poll restores a message it lists). A message our own app wrote or edited is flagged (loop
prevention). Events of a channel the subscription does not sync (`channels`) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.slack.streams import message_id
from pipeline import (
    Change,
    PayloadError,
    SignatureError,
    WebhookChanges,
    WebhookRequest,
    check_hmac,
    check_window,
)

REPLAY_WINDOW_S = 300
ENVELOPE_ONLY = ("event_ts", "channel_type")  # event fields a message from history never has
CARRY_MESSAGE = ("message_changed", "message_replied")


class SlackWebhooks:
    """`POST /webhooks/slack`: the Events API (vendors.md §1.7)."""

    connector = "slack"
    secret_env = "SLACK_SIGNING_SECRET"

    def verify(self, request: WebhookRequest, secret: str, now: float) -> None:
        timestamp = request.headers.get("x-slack-request-timestamp")
        given = request.headers.get("x-slack-signature")
        if not timestamp or not given:
            raise SignatureError("X-Slack-Signature and X-Slack-Request-Timestamp are required")
        check_window(timestamp, now, REPLAY_WINDOW_S)
        signed = b"v0:" + timestamp.encode() + b":" + request.body
        check_hmac(secret, signed, given, prefix="v0=")

    def handshake(self, payload: Any) -> Mapping[str, Any] | None:
        if not isinstance(payload, dict) or payload.get("type") != "url_verification":
            return None
        challenge = payload.get("challenge")
        if not isinstance(challenge, str):
            raise PayloadError("url_verification without a challenge")
        return {"challenge": challenge}

    def delivery_id(self, request: WebhookRequest, payload: Any) -> str:
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        if not isinstance(event_id, str) or not event_id:
            raise PayloadError("event_callback without an event_id")
        return event_id

    def changes(self, payload: Any) -> WebhookChanges | None:
        if not isinstance(payload, dict) or payload.get("type") != "event_callback":
            raise PayloadError("expected an event_callback or url_verification envelope")
        event = payload.get("event")
        if not isinstance(event, dict):
            raise PayloadError("event_callback without an event object")
        if event.get("type") != "message":
            return None  # reactions, joins, …: not synced by webhook (polling sees them)
        return WebhookChanges("messages", [message_change(event, own_writers(payload))])

    def in_scope(self, change: Change, config: Mapping[str, Any]) -> bool:
        """Whether the subscription syncs the change's channel: its `channels`, else every one."""
        channels = config.get("channels")
        if not channels:
            return True
        if isinstance(channels, str):  # `--set channels=C1,C2` before validation
            channels = channels.split(",")
        return change.external_id.split(":", 1)[0] in {str(c).strip() for c in channels}


def own_writers(envelope: Mapping[str, Any]) -> set[str]:
    """Our app's id and its bot users: a message they wrote or edited is our own write."""
    ids = {str(envelope.get("api_app_id") or "")}
    for auth in envelope.get("authorizations") or []:
        if isinstance(auth, dict) and auth.get("is_bot") and auth.get("user_id"):
            ids.add(str(auth["user_id"]))
    ids.discard("")
    return ids


def message_change(event: Mapping[str, Any], ours: set[str]) -> Change:
    """The change one `message` event carries."""
    channel = required(event, "channel")
    subtype = event.get("subtype")
    if subtype == "message_deleted":
        return Change.delete(message_id(channel, required(event, "deleted_ts")), "webhook")
    carried = subtype in CARRY_MESSAGE
    message = event.get("message") if carried else event
    if not isinstance(message, dict):
        raise PayloadError(f"{subtype} without a message object")
    key = message_id(channel, required(message, "ts"))
    if message.get("subtype") == "tombstone":
        return Change.delete(key, "webhook")  # vendors.md §1.4: the parent was deleted
    record = {k: v for k, v in message.items() if k not in ENVELOPE_ONLY}
    record["channel"] = channel
    writer = (message.get("edited") or {}).get("user") if carried else None
    authors = {writer} if carried else {message.get("app_id"), message.get("user")}
    is_own = bool(ours & {str(a) for a in authors if a})
    # Slack never undeletes a message: an event about one we hold deleted is late (vendors.md
    # §1.7, "out-of-order delivery is possible"), so it never restores; a poll listing it does.
    return Change(key, record, is_own_write=is_own, restores=False)


def required(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"the event has no {name}")
    return value
