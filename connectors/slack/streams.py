"""Slack change sources: channels, users, and messages with their thread replies.

Messages follow vendors.md §1.8: per channel a closed window `[high_water − lookback, run_start]`
read newest first with `conversations.history`, checkpointed after every page so a killed run
resumes inside the window; replies are read when a parent is new or its `reply_count` /
`latest_reply` changed, right after the parent's page (the thread stays pending in the checkpoint
until its replies are committed); deletion by absence only for a window walked completely in this
run. Channels take turns, so under a tight budget every channel makes progress (vendors.md §1.6).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.slack.client import SlackClient, SlackConfig, open_client, slack
from connectors.slack.models import ts_key
from connectors.slack.walk import next_cursor, walk
from pipeline import (
    AccessLostError,
    BudgetSpent,
    Change,
    Checkpoint,
    EntityLookup,
    InvalidCursorError,
    Page,
    PipelineError,
    SourceContext,
    Sweep,
)

DAY_S = 86400
NOT_READABLE = "not found, archived, or the app is not a member"


OMITTED_WHEN_EMPTY: Mapping[str, None] = dict.fromkeys(
    (
        "thread_ts",
        "user",
        "bot_id",
        "subtype",
        "text",
        "blocks",
        "attachments",
        "files",
        "reactions",
        "edited",
        "reply_count",
        "reply_users",
        "latest_reply",
        "parent_user_id",
    )
)
"""History messages are complete, but Slack leaves a key out when it is empty (the last reaction
removed drops `reactions`; vendors.md §1.3): say so, since an absent key keeps its stored value."""


def message_id(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def to_ts(seconds: Decimal) -> str:
    return f"{seconds:.6f}"


@dataclass
class Window:
    """One channel's closed window and how far its walk got (all ts as strings)."""

    lo: str
    hi: str
    cursor: str | None = None
    latest: str | None = None
    oldest_applied: str | None = None
    resumed: bool = False
    seen: set[str] = field(default_factory=set)

    def state(self) -> dict[str, Any]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "cursor": self.cursor,
            "latest": self.latest,
            "oldest_applied": self.oldest_applied,
        }


class MessagesSource:
    """Top-level messages and thread replies of every channel the bot is a member of."""

    def __init__(
        self, client: SlackClient, lookup: EntityLookup, config: SlackConfig, run_start: str
    ) -> None:
        self.client = client
        self.lookup = lookup
        self.channels = set(config.channels or [])
        self.lookback_s = Decimal(str(float(config.lookback_days) * DAY_S))
        self.max_fraction = config.max_delete_fraction
        self.run_start = run_start
        self.access_lost: list[str] = []
        self.unreadable: dict[str, str] = {}  # scope → why (pipeline/scopes.py)

    def api_calls(self) -> Mapping[str, int]:
        return self.client.stats()

    def unreadable_scopes(self) -> Mapping[str, str]:
        return self.unreadable

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        state: dict[str, Any] = {"channels": dict((checkpoint or {}).get("channels", {}))}
        for channel in in_turn(self.member_channels(), state["channels"]):
            try:
                yield from self.channel_pages(channel, state)
            except AccessLostError as exc:
                self.access_lost.append(channel)  # vendors.md §1.8: access lost, tombstone nothing
                self.unreadable[f"channel {channel}"] = f"access lost mid-walk: {exc}"

    def member_channels(self) -> list[str]:
        found = []
        for items, _ in walk(
            self.client, "conversations.list", "channels", types="public_channel,private_channel"
        ):
            found += [c["id"] for c in items if c.get("is_member") and not c.get("is_archived")]
        wanted = [c for c in found if not self.channels or c in self.channels]
        for missing in sorted(self.channels - set(found)):
            self.unreadable[f"channel {missing}"] = NOT_READABLE
        return sorted(wanted)

    def window_for(self, stored: Mapping[str, Any]) -> Window:
        if stored.get("window"):
            w = stored["window"]
            return Window(
                w["lo"],
                w["hi"],
                w.get("cursor"),
                w.get("latest"),
                w.get("oldest_applied"),
                resumed=True,
            )
        high = stored.get("high_water")
        lo = "0" if high is None else to_ts(max(Decimal(0), ts_key(high) - self.lookback_s))
        return Window(lo, self.run_start)

    def channel_pages(self, channel: str, state: dict[str, Any]) -> Iterator[Page]:
        stored = dict(state["channels"].get(channel, {}))
        state["channels"][channel] = stored
        yield from self.thread_pages(channel, stored, state)  # replies an earlier run left pending
        window = self.window_for(stored)
        while True:
            body = self.history(channel, window)
            messages = body.get("messages") or []
            changes = self.message_changes(channel, messages, window)
            threads = self.moved_threads(channel, messages)
            window.cursor = next_cursor(body)
            done = window.cursor is None
            high = max(
                [stored.get("high_water"), *(m["ts"] for m in messages)],
                key=lambda t: ts_key(t) if t else Decimal(-1),
            )
            stored.update(high_water=high, window=None if done else window.state())
            if done:
                stored["synced_to"] = window.hi
            pending = list(stored.get("threads") or [])
            set_threads(stored, pending + [t for t in threads if t not in pending])
            sweeps = self.window_sweep(channel, window) if done else []
            yield Page(changes, checkpoint_of(state), sweeps)
            yield from self.thread_pages(channel, stored, state)
            if done:
                return

    def history(self, channel: str, window: Window) -> dict[str, Any]:
        """One history page; `invalid_cursor` restarts from the oldest ts applied (vendors.md §1.5)."""
        try:
            return self._history(channel, window)
        except InvalidCursorError:
            window.cursor, window.latest = None, window.oldest_applied
            return self._history(channel, window)

    def _history(self, channel: str, window: Window) -> dict[str, Any]:
        return self.client.call(
            "conversations.history",
            channel=channel,
            oldest=window.lo,
            latest=window.latest or window.hi,
            inclusive=1,
            cursor=window.cursor,
            limit=self.client.limit,
        )

    def message_changes(
        self, channel: str, messages: list[dict[str, Any]], window: Window
    ) -> list[Change]:
        changes = [self.change(channel, m) for m in messages]
        window.seen.update(c.external_id for c in changes)
        if messages:
            oldest = min((m["ts"] for m in messages), key=ts_key)
            if window.oldest_applied is None or ts_key(oldest) < ts_key(window.oldest_applied):
                window.oldest_applied = oldest
        return changes

    def change(self, channel: str, message: Mapping[str, Any]) -> Change:
        key = message_id(channel, str(message.get("ts")))
        if message.get("subtype") == "tombstone":
            return Change.delete(key, "tombstone")  # vendors.md §1.4: deleted parent, thread kept
        return Change.upsert(key, {**OMITTED_WHEN_EMPTY, **message, "channel": channel})

    def moved_threads(self, channel: str, messages: list[dict[str, Any]]) -> list[str]:
        """Parents whose thread is new or whose `reply_count`/`latest_reply` moved (vendors.md §1.8)."""
        parents = [m for m in messages if m.get("thread_ts") == m.get("ts")]
        stored = (
            self.lookup.lookup(message_id(channel, m["ts"]) for m in parents) if parents else {}
        )
        return [
            p["ts"] for p in parents if thread_moved(p, stored.get(message_id(channel, p["ts"])))
        ]

    def thread_pages(
        self, channel: str, stored: dict[str, Any], state: dict[str, Any]
    ) -> Iterator[Page]:
        """The replies of the pending threads, as one page that also takes them off the checkpoint.

        A thread stays pending in the checkpoint until its replies are committed: its parent was
        committed first, so comparing counters again next run would not notice it. When the budget
        runs out part-way (non-Marketplace: one `conversations.replies` per minute), the threads
        read so far are committed before the run ends, so repeated runs always make progress.
        """
        pending = list(stored.get("threads") or [])
        changes: list[Change] = []
        sweeps: list[Sweep] = []
        done: list[str] = []
        try:
            for parent_ts in pending:
                replies = self.thread(channel, parent_ts)
                if replies is not None:
                    changes += replies
                    sweeps.append(self.thread_sweep(channel, parent_ts, replies))
                done.append(parent_ts)
        except (BudgetSpent, PipelineError):
            if done:
                set_threads(stored, pending[len(done) :])
                yield Page(changes, checkpoint_of(state), sweeps)
            raise
        if done:
            set_threads(stored, [])
            yield Page(changes, checkpoint_of(state), sweeps)

    def thread(self, channel: str, parent_ts: str) -> list[Change] | None:
        """Every reply of a thread (the parent, which comes first, is skipped); None if it vanished."""
        replies: list[Change] = []
        try:
            for items, _ in walk(
                self.client, "conversations.replies", "messages", channel=channel, ts=parent_ts
            ):
                replies += [self.change(channel, m) for m in items if m.get("ts") != parent_ts]
        except AccessLostError:
            return None  # thread_not_found: deleted between history and replies; next run sees it
        return replies

    def thread_sweep(self, channel: str, parent_ts: str, replies: list[Change]) -> Sweep:
        """A thread walked completely: its stored replies that did not come back were deleted."""
        return Sweep(
            f"thread {channel}:{parent_ts}",
            {c.external_id for c in replies},
            where={"channel": channel, "thread_ts": parent_ts, "is_reply": True},
            max_fraction=1.0,  # a thread walked to its end is authoritative, even when emptied
        )

    def window_sweep(self, channel: str, window: Window) -> list[Sweep]:
        if window.resumed:
            return []  # part of this window was walked by an earlier run: absence proves nothing
        return [
            Sweep(
                f"channel {channel} window [{window.lo}, {window.hi}]",
                window.seen,
                where={"channel": channel, "is_reply": False},
                between=("ts", window.lo, window.hi),
                max_fraction=self.max_fraction,
            )
        ]


def in_turn(channels: list[str], stored: Mapping[str, Any]) -> list[str]:
    """Unfinished work first, then channels never synced, then the least recently synced.

    Under a tight budget (non-Marketplace: one history page per minute, vendors.md §1.6) a run
    ends after a page or two; without turns the first channel's next window would take every run.
    """

    def turn(channel: str) -> tuple[int, Decimal, str]:
        s = stored.get(channel) or {}
        if s.get("window") or s.get("threads"):
            return 0, Decimal(0), channel
        if not s.get("synced_to"):
            return 1, Decimal(0), channel
        return 2, ts_key(s["synced_to"]), channel

    return sorted(channels, key=turn)


def set_threads(stored: dict[str, Any], pending: list[str]) -> None:
    """Record the threads whose replies are still to be read (none: no key, as before threads)."""
    if pending:
        stored["threads"] = pending
    else:
        stored.pop("threads", None)


def checkpoint_of(state: dict[str, Any]) -> dict[str, Any]:
    """A copy: the walk goes on mutating `state` after a page is handed over (and maybe never committed)."""
    return {"channels": copy.deepcopy(state["channels"])}


def thread_moved(parent: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    """A thread needs reading when its parent is new with replies, or its counters moved."""
    now = (parent.get("reply_count") or 0, parent.get("latest_reply"))
    if stored is None:
        return now[0] > 0
    return now != (stored.get("reply_count") or 0, stored.get("latest_reply"))


def run_start_ts(ctx: SourceContext) -> str:
    return to_ts(Decimal(str(ctx.clock.now().timestamp())))


def open_messages(ctx: SourceContext) -> MessagesSource:
    config = slack.validate(ctx.subscription.config, "slack-messages config")
    assert isinstance(config, SlackConfig)
    return MessagesSource(open_client(ctx, config), ctx.lookup, config, run_start_ts(ctx))
