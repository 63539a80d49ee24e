"""The sandbox's in-memory Slack workspace: channels, users, messages, threads and a fake clock.

Messages live in per-channel sorted arrays of integer microsecond timestamps. Seeded messages are
rendered on demand from the seed (`content.py`), so a million-message workspace costs a few bytes
per message until a message is mutated; mutated and posted messages are kept whole in an overlay.
Thread fields on parents (`reply_count`, `latest_reply`, …) are computed at render time, so every
mutation keeps them consistent. Semantics follow vendors.md §1.3, §1.4 and §6.2.
"""

from __future__ import annotations

import copy
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

Message = dict[str, Any]
DEFAULT_NOW = 1767225600.0  # 2026-01-01T00:00:00Z, the same start as pipeline.http.clock.FakeClock
SLACKBOT = "USLACKBOT"


class SlackError(Exception):
    """A Slack `ok: false` error code (vendors.md §1.5), raised by operations, mapped by the app."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def format_ts(us: int) -> str:
    """Microseconds → Slack's "<seconds>.<6 digits>" string (vendors.md §1.3)."""
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def parse_ts(value: object) -> int:
    """A Slack ts ("1512085950.000216", "1512085950", 1512085950.5) → integer microseconds.

    Strings are split, never converted through float: 16 digits sit at float64's edge (§1.3).
    """
    text = str(value).strip()
    seconds, _, fraction = text.partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(f"not a Slack ts: {value!r}")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def rich_text(text: str) -> list[dict[str, Any]]:
    """The `rich_text` block a Slack client sends along with a plain `text`."""
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": f"b{len(text):04d}", "elements": [section]}]


class SandboxClock:
    """Fake time in float seconds: a fixed start, or a linked `source`, plus a manual offset.

    Link it to a test's clock (`source=fake_clock.now`) so a client that "sleeps" on a 429 by
    advancing its fake clock also refills the sandbox's rate budget. It never sleeps.
    """

    def __init__(self, start: float = DEFAULT_NOW, source: Callable[[], object] | None = None):
        self._source = source
        self._offset = 0.0 if source else float(start)

    def now(self) -> float:
        return self._read_source() + self._offset

    def now_us(self) -> int:
        return round(self.now() * 1_000_000)

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def set(self, now: float) -> None:
        self._offset = float(now) - self._read_source()

    def _read_source(self) -> float:
        if self._source is None:
            return 0.0
        value = self._source()
        if isinstance(value, datetime):  # e.g. pipeline.http.clock.FakeClock.now
            return value.timestamp()
        return float(value)  # type: ignore[arg-type]


Observer = Callable[[str, str, "Message | None", "Message | None"], None]
"""`observer(kind, channel, before, after)`, kind one of posted, changed, deleted, reacted."""


class Content(Protocol):
    """Renders seeded messages on demand (implemented by `content.SeededContent`)."""

    def generate(
        self, channel: Channel, us: int, *, parent_us: int | None, broadcast: bool
    ) -> Message: ...

    def author(self, channel: Channel, us: int) -> str | None: ...


@dataclass
class Channel:
    """One conversation: its `conversations.list` fields plus its message index."""

    id: str
    name: str
    index: int
    created: int
    creator: str
    is_private: bool = False
    is_archived: bool = False
    is_general: bool = False
    is_member: bool = True
    topic: str = ""
    purpose: str = ""
    # history shows top-level messages and broadcasts; threads hold every reply
    timeline: array[int] = field(default_factory=lambda: array("q"))
    threads: dict[int, list[int]] = field(default_factory=dict)  # parent us → reply us, ascending
    parent_of: dict[int, int] = field(default_factory=dict)  # reply us → parent us
    overlay: dict[int, Message] = field(default_factory=dict)  # posted or mutated messages, whole
    deleted: dict[int, float] = field(default_factory=dict)  # ground truth: us → deleted at
    tombstoned_authors: dict[int, str] = field(default_factory=dict)  # for later parent_user_id
    last_us: int = 0  # highest ts ever used here; new ts are strictly greater (§6.2.4)

    def in_timeline(self, us: int) -> bool:
        i = bisect_left(self.timeline, us)
        return i < len(self.timeline) and self.timeline[i] == us

    def drop_from_timeline(self, us: int) -> None:
        i = bisect_left(self.timeline, us)
        if i < len(self.timeline) and self.timeline[i] == us:
            del self.timeline[i]


class Workspace:
    """A Slack team: users, channels, messages, and the operations tests and benchmarks drive."""

    def __init__(
        self,
        *,
        team_id: str = "T0SANDBOX",
        team_name: str = "Sandbox",
        bot_user_id: str = "U0SANDBOT",
        bot_id: str = "B0SANDBOT",
        clock: SandboxClock | None = None,
        content: Content | None = None,
    ) -> None:
        self.team_id, self.team_name = team_id, team_name
        self.bot_user_id, self.bot_id = bot_user_id, bot_id
        self.clock = clock or SandboxClock()
        self.content = content
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.deleted_channels: dict[str, float] = {}
        self.observers: list[Observer] = []  # told of every message change (events.py)
        self.reaction_users_max = 50  # `users` is truncated beyond this, `count` is not (§1.3)
        self.limit_required_above = 1000  # users.list limit=0 fails above this team size (§6.2.10)

    # -- time ---------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.now()

    @now.setter
    def now(self, value: float) -> None:
        self.clock.set(value)

    def advance(self, seconds: float) -> None:
        """Move fake time forward (rate budgets refill, new messages get later ts)."""
        self.clock.advance(seconds)

    # -- lookups ------------------------------------------------------------------------------

    def channel(self, channel_id: str) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise SlackError("channel_not_found") from None

    def channel_named(self, name: str) -> Channel:
        """The channel called `name` (seeded ids are stable; names are easier to read in tests)."""
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        raise KeyError(name)

    def exists(self, ch: Channel, us: int) -> bool:
        return us in ch.parent_of or ch.in_timeline(us)

    def locate(self, channel_id: str, ts: str) -> tuple[Channel, int]:
        ch = self.channel(channel_id)
        try:
            us = parse_ts(ts)
        except ValueError:
            raise SlackError("message_not_found") from None
        if not self.exists(ch, us):
            raise SlackError("message_not_found")
        return ch, us

    def message(self, channel_id: str, ts: str) -> Message:
        """A copy of one message as history or replies would return it."""
        ch, us = self.locate(channel_id, ts)
        return self._copy(ch, us)

    def _copy(self, ch: Channel, us: int) -> Message:
        """What operations return: a deep copy, so callers cannot reach into stored state."""
        return copy.deepcopy(self.render(ch, us))

    def thread_root(self, ch: Channel, us: int) -> int:
        """The parent ts of the thread `us` belongs to (`us` itself for a top-level message)."""
        return ch.parent_of.get(us, us)

    def all_ts(self, ch: Channel) -> list[int]:
        """Every live message in a channel, top level and replies, ascending."""
        return sorted(set(ch.timeline) | ch.parent_of.keys())

    # -- rendering ----------------------------------------------------------------------------

    def base(self, ch: Channel, us: int) -> Message:
        """The stored message without computed thread fields (fresh dict for seeded messages)."""
        stored = ch.overlay.get(us)
        if stored is not None:
            return stored
        if self.content is None:
            raise SlackError("message_not_found")
        parent = ch.parent_of.get(us)
        broadcast = parent is not None and ch.in_timeline(us)
        return self.content.generate(ch, us, parent_us=parent, broadcast=broadcast)

    def render(self, ch: Channel, us: int) -> Message:
        """The message as the API returns it: parent thread fields and reaction truncation added."""
        msg = dict(self.base(ch, us))
        replies = ch.threads.get(us)
        if replies:
            authors = list(dict.fromkeys(a for a in (self.author(ch, r) for r in replies) if a))
            msg.update(
                thread_ts=format_ts(us),
                reply_count=len(replies),
                reply_users=authors,
                reply_users_count=len(authors),
                latest_reply=format_ts(replies[-1]),
                is_locked=False,
                subscribed=False,
            )
        reactions = msg.get("reactions")
        if reactions and any(len(r["users"]) > self.reaction_users_max for r in reactions):
            cap = self.reaction_users_max
            msg["reactions"] = [{**r, "users": r["users"][:cap]} for r in reactions]
        return msg

    def author(self, ch: Channel, us: int) -> str | None:
        stored = ch.overlay.get(us)
        if stored is not None:
            return stored.get("user")
        return self.content.author(ch, us) if self.content else None

    # -- message operations (vendors.md §6.2.5–§6.2.8) -----------------------------------------

    def next_ts(self, ch: Channel) -> int:
        """A new ts from the fake clock, strictly above any ts used in the channel (§6.2.4)."""
        ch.last_us = max(self.clock.now_us(), ch.last_us + 1)
        return ch.last_us

    def default_user(self) -> str:
        """The first active human: who posts when a test does not say."""
        for uid, user in self.users.items():
            if not user.get("deleted") and not user.get("is_bot") and uid != SLACKBOT:
                return uid
        return self.bot_user_id

    def post(
        self,
        channel_id: str,
        text: str,
        *,
        user: str | None = None,
        thread_ts: str | None = None,
        broadcast: bool = False,
        **fields: Any,
    ) -> Message:
        """Post a message (or a reply when `thread_ts` is given); returns it as rendered."""
        ch = self.channel(channel_id)
        parent = self._thread_parent(ch, thread_ts) if thread_ts else None
        us = self.next_ts(ch)
        msg: Message = {"type": "message", "ts": format_ts(us), "user": user or self.default_user()}
        msg.update(text=text, team=self.team_id, blocks=rich_text(text), **fields)
        if parent is None:
            ch.timeline.append(us)
        else:
            self._attach_reply(ch, parent, us, msg, broadcast)
        ch.overlay[us] = msg
        posted = self._copy(ch, us)
        if self.observers:
            self._notify("posted", ch, None, posted)
            if parent is not None:  # the parent's thread fields moved
                self._notify("changed", ch, None, self._copy(ch, parent))
        return posted

    def _notify(
        self, kind: str, ch: Channel, before: Message | None, after: Message | None
    ) -> None:
        for observer in self.observers:
            observer(kind, ch.id, before, after)

    def reply(self, channel_id: str, thread_ts: str, text: str, **kwargs: Any) -> Message:
        """Reply in a thread (any age; §6.2.8). `broadcast=True` makes a `thread_broadcast`."""
        return self.post(channel_id, text, thread_ts=thread_ts, **kwargs)

    def _thread_parent(self, ch: Channel, thread_ts: str) -> int:
        try:
            us = parse_ts(thread_ts)
        except ValueError:
            raise SlackError("thread_not_found") from None
        if not self.exists(ch, us):
            raise SlackError("thread_not_found")
        return self.thread_root(ch, us)

    def _attach_reply(
        self, ch: Channel, parent: int, us: int, msg: Message, broadcast: bool
    ) -> None:
        msg.update(thread_ts=format_ts(parent), parent_user_id=self._parent_user(ch, parent))
        ch.threads.setdefault(parent, []).append(us)
        ch.parent_of[us] = parent
        if broadcast:  # a broadcast reply shows in history too (§1.4)
            msg["subtype"] = "thread_broadcast"
            ch.timeline.append(us)

    def _parent_user(self, ch: Channel, parent: int) -> str | None:
        if parent in ch.tombstoned_authors:
            return ch.tombstoned_authors[parent]
        return self.author(ch, parent)

    def materialize(self, ch: Channel, us: int) -> Message:
        """Move a seeded message into the overlay so it can be mutated."""
        if us not in ch.overlay:
            ch.overlay[us] = self.base(ch, us)
        return ch.overlay[us]

    def edit(self, channel_id: str, ts: str, text: str, *, user: str | None = None) -> Message:
        """Change `text`/`blocks` and set `edited: {user, ts: now}`; `ts` stays (§6.2.5)."""
        ch, us = self.locate(channel_id, ts)
        msg = self.materialize(ch, us)
        if msg.get("subtype") == "tombstone":
            raise SlackError("cant_update_message")
        before = self._copy(ch, us) if self.observers else None
        editor = user or msg.get("user") or self.bot_user_id
        msg.update(text=text, blocks=rich_text(text))
        msg["edited"] = {"user": editor, "ts": format_ts(self.clock.now_us())}
        after = self._copy(ch, us)
        if self.observers:
            self._notify("changed", ch, before, after)
        return after

    def delete(self, channel_id: str, ts: str) -> None:
        """Delete a message: it vanishes, or a parent with replies becomes a tombstone (§1.4)."""
        ch, us = self.locate(channel_id, ts)
        before, parent = self._copy(ch, us) if self.observers else None, ch.parent_of.get(us)
        if us in ch.parent_of:
            self._delete_reply(ch, us)
        elif ch.threads.get(us):
            self._tombstone(ch, us)
        else:
            ch.drop_from_timeline(us)
            ch.overlay.pop(us, None)
        ch.deleted[us] = self.now
        if self.observers:
            self._notify_deleted(ch, us, before, parent)

    def _notify_deleted(
        self, ch: Channel, us: int, before: Message | None, parent: int | None
    ) -> None:
        if self.exists(ch, us):  # a parent with replies left: now a tombstone (§1.4)
            self._notify("changed", ch, before, self._copy(ch, us))
        else:
            self._notify("deleted", ch, before, None)
        if parent is not None and self.exists(ch, parent):
            self._notify("changed", ch, None, self._copy(ch, parent))

    def _tombstone(self, ch: Channel, us: int) -> None:
        old = self.base(ch, us)
        if old.get("subtype") == "tombstone":
            raise SlackError("cant_delete_message")
        ch.overlay[us] = {
            "type": "message",
            "subtype": "tombstone",
            "hidden": True,
            "ts": format_ts(us),
            "user": SLACKBOT,
            "text": "This message was deleted.",
            "team": self.team_id,
        }
        if old.get("user"):  # replies posted later still name the original author
            ch.tombstoned_authors[us] = old["user"]

    def _delete_reply(self, ch: Channel, us: int) -> None:
        parent = ch.parent_of.pop(us)
        replies = ch.threads[parent]
        replies.remove(us)
        ch.drop_from_timeline(us)
        ch.overlay.pop(us, None)
        if replies:
            return
        del ch.threads[parent]
        if ch.overlay.get(parent, {}).get("subtype") == "tombstone":  # nothing left to hold up
            ch.drop_from_timeline(parent)
            del ch.overlay[parent]

    def react(self, channel_id: str, ts: str, name: str, *, user: str | None = None) -> Message:
        """Add a reaction: `count` and `users` change, `edited` does not (§6.2.6)."""
        ch, us = self.locate(channel_id, ts)
        user = user or self.default_user()
        reactions = self.materialize(ch, us).setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            reactions.append({"name": name, "users": [user], "count": 1})
        elif user in entry["users"]:
            raise SlackError("already_reacted")
        else:
            entry["users"].append(user)
            entry["count"] += 1
        after = self._copy(ch, us)
        if self.observers:
            self._notify("reacted", ch, {"reaction": name, "user": user}, after)
        return after

    def unreact(self, channel_id: str, ts: str, name: str, *, user: str | None = None) -> Message:
        """Remove one user's reaction (`no_reaction` if they had none)."""
        ch, us = self.locate(channel_id, ts)
        user = user or self.default_user()
        msg = self.materialize(ch, us)
        entry = next((r for r in msg.get("reactions", []) if r["name"] == name), None)
        if entry is None or user not in entry["users"]:
            raise SlackError("no_reaction")
        entry["users"].remove(user)
        entry["count"] -= 1
        if entry["count"] == 0:
            msg["reactions"].remove(entry)
        if not msg["reactions"]:
            del msg["reactions"]
        after = self._copy(ch, us)
        if self.observers:
            self._notify("unreacted", ch, {"reaction": name, "user": user}, after)
        return after

    # -- channel and user operations (§6.2.10) -------------------------------------------------

    def archive(self, channel_id: str, *, archived: bool = True) -> None:
        ch = self.channel(channel_id)
        if ch.is_archived == archived:
            raise SlackError("already_archived" if archived else "not_archived")
        ch.is_archived = archived

    def set_bot_member(self, channel_id: str, is_member: bool) -> None:
        """Add or remove the bot: history then answers `not_in_channel` (§1.5)."""
        self.channel(channel_id).is_member = is_member

    def remove_bot(self, channel_id: str) -> None:
        self.set_bot_member(channel_id, False)

    def delete_channel(self, channel_id: str) -> None:
        """The channel leaves conversations.list; its methods answer `channel_not_found`."""
        self.channel(channel_id)
        del self.channels[channel_id]
        self.deleted_channels[channel_id] = self.now

    def deactivate_user(self, user_id: str) -> None:
        """`deleted: true` plus a fresh `updated` epoch, as users.list shows it (§1.8)."""
        user = self.users[user_id]
        user.update(deleted=True, updated=int(self.now))
