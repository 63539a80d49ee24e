"""The Slack Web API methods the sandbox serves, as functions of a `Request` → response body.

Reads: conversations.list, conversations.history, conversations.replies, users.list, auth.test.
Writes (as the bot): chat.postMessage, chat.update, chat.delete, reactions.add, reactions.remove,
conversations.archive. Paging uses opaque key-set cursors (base64 of "next_ts:<µs>", "team:<id>",
"user:<id>", as in the OpenAPI examples; vendors.md §1.1) that stay valid under inserts and deletes
and are rejected with `invalid_cursor` once unknown, expired or invalidated (§6.1.4).
"""

from __future__ import annotations

import base64
import json
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .faults import Call, Faults
from .limits import RateLimiter
from .workspace import Channel, SlackError, Workspace, parse_ts

Body = dict[str, Any]
CHANNEL_TYPES = ("public_channel", "private_channel", "mpim", "im")


@dataclass(frozen=True)
class Position:
    """Where a cursor resumes: a key-set position plus the page number it fetches."""

    kind: str
    key: str
    page: int
    issued_at: float


class Cursors:
    """The cursors this server has issued: anything else is `invalid_cursor` (§1.5, §6.1.4)."""

    def __init__(self, ttl_s: float | None = None) -> None:
        self.ttl_s = ttl_s
        self._book: dict[str, Position] = {}
        self._lock = threading.Lock()

    def issue(self, kind: str, key: object, page: int, now: float, *, previous: str | None) -> str:
        """A cursor for `kind:key`; an empty page gets a variant, so a walk never repeats one."""
        cursor = _b64(f"{kind}:{key}")
        if cursor == previous:
            cursor = _b64(f"{kind}:{key}:{page}")
        with self._lock:
            self._book[cursor] = Position(kind, str(key), page, now)
        return cursor

    def page_of(self, cursor: str | None) -> int | None:
        """The page number a request fetches: 1 without a cursor, None for an unknown cursor."""
        if not cursor:
            return 1
        position = self._book.get(cursor)
        return position.page if position else None

    def resolve(self, cursor: str, kind: str, now: float) -> Position:
        position = self._book.get(cursor)
        if position is None or position.kind != kind:
            raise SlackError("invalid_cursor")
        if self.ttl_s is not None and now - position.issued_at > self.ttl_s:
            raise SlackError("invalid_cursor")
        return position

    def invalidate(self) -> None:
        """Forget every issued cursor: the next page request of each walk gets `invalid_cursor`."""
        with self._lock:
            self._book.clear()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Request:
    """One API call as a method sees it."""

    ws: Workspace
    params: dict[str, Any]
    limiter: RateLimiter
    cursors: Cursors
    faults: Faults
    call: Call

    def get(self, name: str) -> str | None:
        value = self.params.get(name)
        return None if value is None or value == "" else str(value)

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
            )
        return value

    def flag(self, name: str) -> bool:
        return str(self.params.get(name, "")).lower() in ("1", "true")

    def limit(self, *, error: str = "invalid_limit") -> int:
        raw = self.get("limit")
        try:
            requested = None if raw is None else int(raw)
        except ValueError:
            raise SlackError(error) from None
        return self.limiter.page_limit(self.call.method, requested)

    def page_size(self, limit: int) -> int:
        """`limit`, or fewer when a short-page fault fires (vendors.md §1.2)."""
        fault = self.faults.take(self.call, ("short_page",))
        return limit if fault is None else min(limit, fault.size)

    def next_cursor(self, kind: str, key: object) -> str:
        page = (self.call.page or 1) + 1
        return self.cursors.issue(kind, key, page, self.ws.now, previous=self.get("cursor"))

    def position(self, kind: str) -> Position | None:
        cursor = self.get("cursor")
        return None if cursor is None else self.cursors.resolve(cursor, kind, self.ws.now)


def _page(next_cursor: str, **body: Any) -> Body:
    """A success envelope; `next_cursor` is "" at the end of the collection (§1.2)."""
    return {"ok": True, **body, "response_metadata": {"next_cursor": next_cursor}}


def readable_channel(req: Request) -> Channel:
    """The requested channel, if the bot can read it (`channel_not_found`, `not_in_channel`)."""
    ch = req.ws.channel(req.require("channel"))
    if ch.is_private and not ch.is_member:
        raise SlackError("channel_not_found")  # private channels are invisible to non-members
    if not ch.is_member:
        raise SlackError("not_in_channel")
    return ch


def time_bounds(req: Request) -> tuple[int, int]:
    """Inclusive µs bounds from oldest/latest: exclusive unless `inclusive=1` (§1.1).

    `latest` defaults to now, and no message is newer than now, so no upper bound is applied;
    on frozen fake time that keeps a message posted "now" (or bumped 1 µs past it) visible.
    """
    inclusive = req.flag("inclusive")
    try:
        oldest = parse_ts(req.get("oldest") or "0")
    except ValueError:
        raise SlackError("invalid_ts_oldest") from None
    latest_param = req.get("latest")
    try:
        latest = (1 << 62) if latest_param is None else parse_ts(latest_param)
    except ValueError:
        raise SlackError("invalid_ts_latest") from None
    return (oldest, latest) if inclusive else (oldest + 1, latest - 1)


def conversations_history(req: Request) -> Body:
    """Top-level messages and broadcasts, newest first, walked backwards by a `next_ts` cursor."""
    ch = readable_channel(req)
    lo, hi = time_bounds(req)
    limit = req.limit(error="invalid_arguments")
    position = req.position("next_ts")
    if position is not None:
        hi = min(hi, int(position.key) - 1)
    first, end = bisect_left(ch.timeline, lo), bisect_right(ch.timeline, hi)
    start = max(first, end - req.page_size(limit))
    stamps = list(reversed(ch.timeline[start:end]))
    has_more = start > first
    cursor = req.next_cursor("next_ts", stamps[-1] if stamps else hi + 1) if has_more else ""
    messages = [req.ws.render(ch, us) for us in stamps]
    return _page(
        cursor,
        messages=messages,
        has_more=has_more,
        pin_count=0,
        channel_actions_ts=None,
        channel_actions_count=0,
    )


def conversations_replies(req: Request) -> Body:
    """The thread of `ts` (parent or any reply): parent first, then replies ascending (§6.2.3)."""
    ch = readable_channel(req)
    try:
        us = parse_ts(req.require("ts"))
    except ValueError:
        raise SlackError("thread_not_found") from None
    if not req.ws.exists(ch, us):
        raise SlackError("thread_not_found")
    root = req.ws.thread_root(ch, us)
    lo, hi = time_bounds(req)
    replies = ch.threads.get(root, [])
    # The parent always leads the first page; its ts is below every reply's, so one ascending
    # key-set walk covers both. Continuation pages omit it ([3rd] reports; unverified).
    thread = [root, *replies[bisect_left(replies, lo) : bisect_right(replies, hi)]]
    position = req.position("reply_ts")
    start = 0 if position is None else bisect_right(thread, int(position.key))
    stop = start + req.page_size(req.limit(error="invalid_arguments"))
    stamps = thread[start:stop]
    has_more = stop < len(thread)
    resume = stamps[-1] if stamps else (thread[start - 1] if start else root - 1)
    cursor = req.next_cursor("reply_ts", resume) if has_more else ""
    messages = [req.ws.render(ch, s) for s in stamps]
    return _page(cursor, messages=messages, has_more=has_more)


def channel_object(ws: Workspace, ch: Channel) -> Body:
    """A channel as conversations.list shows it to the bot (`is_member`, `is_archived`, …)."""
    members = sum(1 for u in ws.users.values() if not u["deleted"] and not u["is_bot"])
    topic = {"value": ch.topic, "creator": ch.creator, "last_set": ch.created}
    return {
        "id": ch.id,
        "name": ch.name,
        "name_normalized": ch.name,
        "is_channel": not ch.is_private,
        "is_group": ch.is_private,
        "is_im": False,
        "is_mpim": False,
        "is_private": ch.is_private,
        "created": ch.created,
        "creator": ch.creator,
        "is_archived": ch.is_archived,
        "is_general": ch.is_general,
        "unlinked": 0,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": ws.team_id,
        "shared_team_ids": [ws.team_id],
        "parent_conversation": None,
        "is_member": ch.is_member,
        "topic": topic,
        "purpose": {**topic, "value": ch.purpose},
        "previous_names": [],
        "num_members": members,
    }


def _keyset(req: Request, kind: str, ids: Sequence[str], limit: int) -> tuple[list[str], str]:
    """One page of sorted ids after the cursor's id, and the next cursor ("" at the end)."""
    position = req.position(kind)
    start = 0 if position is None else bisect_right(ids, position.key)
    stop = start + req.page_size(limit)
    page = list(ids[start:stop])
    if stop >= len(ids):
        return page, ""
    resume = page[-1] if page else (ids[start - 1] if start else "")
    return page, req.next_cursor(kind, resume)


def conversations_list(req: Request) -> Body:
    """Public channels (member or not) and the private ones the bot is in, by id."""
    types = (req.get("types") or "public_channel").split(",")
    if any(t.strip() not in CHANNEL_TYPES for t in types):
        raise SlackError("invalid_types")
    raw_limit = req.get("limit")
    if raw_limit is not None and raw_limit.lstrip("-").isdigit() and not 0 <= int(raw_limit) < 1000:
        raise SlackError("invalid_limit")  # "Must be an integer under 1000" (§1.1)
    wanted = {
        "private_channel" if "private" in t else "public_channel" for t in types if "channel" in t
    }
    visible = [
        ch
        for ch in req.ws.channels.values()
        if ("private_channel" if ch.is_private else "public_channel") in wanted
        and (ch.is_member or not ch.is_private)
        and not (ch.is_archived and req.flag("exclude_archived"))
    ]
    by_id = {ch.id: ch for ch in visible}
    ids, cursor = _keyset(req, "team", sorted(by_id), req.limit())
    return _page(cursor, channels=[channel_object(req.ws, by_id[i]) for i in ids])


def users_list(req: Request) -> Body:
    """Every member, deleted and bots included; `limit=0` means "all" until the team is big."""
    ws = req.ws
    limit = req.limit()
    if limit == 0:
        if len(ws.users) > ws.limit_required_above:
            raise SlackError("limit_required")
        limit = len(ws.users) or 1
    ids, cursor = _keyset(req, "user", sorted(ws.users), limit)
    return _page(cursor, members=[dict(ws.users[i]) for i in ids], cache_ts=int(ws.now))


def auth_test(req: Request) -> Body:
    ws = req.ws
    return {
        "ok": True,
        "url": "https://sandbox.slack.com/",
        "team": ws.team_name,
        "user": "sandbox-bot",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def _writable_channel(req: Request) -> Channel:
    ch = readable_channel(req)
    if ch.is_archived:
        raise SlackError("is_archived")
    return ch


def _own_message(req: Request, ts_param: str, error: str) -> tuple[Channel, str]:
    """A message the bot wrote: bot tokens may only change their own messages."""
    ch = _writable_channel(req)
    ts = req.require(ts_param)
    _, us = req.ws.locate(ch.id, ts)
    if req.ws.author(ch, us) != req.ws.bot_user_id:
        raise SlackError(error)
    return ch, ts


def chat_post_message(req: Request) -> Body:
    ch = _writable_channel(req)
    text, blocks = req.get("text"), req.params.get("blocks")
    if not text and not blocks:
        raise SlackError("no_text")
    extra: dict[str, Any] = {"bot_id": req.ws.bot_id, "app_id": "A0SANDBOX"}
    if blocks:
        extra["blocks"] = _blocks(blocks)
    msg = req.ws.post(
        ch.id,
        text or "",
        user=req.ws.bot_user_id,
        thread_ts=req.get("thread_ts"),
        broadcast=req.flag("reply_broadcast"),
        **extra,
    )
    return {"ok": True, "channel": ch.id, "ts": msg["ts"], "message": msg}


def _blocks(raw: object) -> Any:
    """Blocks arrive as a JSON string in form bodies and as a list in JSON bodies."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        raise SlackError("invalid_blocks") from None


def chat_update(req: Request) -> Body:
    ch, ts = _own_message(req, "ts", "cant_update_message")
    msg = req.ws.edit(ch.id, ts, req.require("text"), user=req.ws.bot_user_id)
    return {"ok": True, "channel": ch.id, "ts": ts, "text": msg["text"], "message": msg}


def chat_delete(req: Request) -> Body:
    ch, ts = _own_message(req, "ts", "cant_delete_message")
    req.ws.delete(ch.id, ts)
    return {"ok": True, "channel": ch.id, "ts": ts}


def reactions_add(req: Request) -> Body:
    ch = readable_channel(req)
    req.ws.react(ch.id, req.require("timestamp"), req.require("name"), user=req.ws.bot_user_id)
    return {"ok": True}


def reactions_remove(req: Request) -> Body:
    ch = readable_channel(req)
    req.ws.unreact(ch.id, req.require("timestamp"), req.require("name"), user=req.ws.bot_user_id)
    return {"ok": True}


def conversations_archive(req: Request) -> Body:
    req.ws.archive(readable_channel(req).id)
    return {"ok": True}


METHODS: dict[str, Callable[[Request], Body]] = {
    "conversations.list": conversations_list,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "users.list": users_list,
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "conversations.archive": conversations_archive,
}
