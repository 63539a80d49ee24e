"""Slack change sources: channels, users, and messages with their thread replies.

Messages follow vendors.md §1.8: per channel a closed window `[high_water − lookback, run_start]`
read newest first with `conversations.history`, checkpointed after every page so a killed run
resumes inside the window; replies are read when a parent is new or its `reply_count` /
`latest_reply` changed, right after the parent's page (the thread stays pending in the checkpoint
until its replies are committed); deletion by absence only for a window walked completely and
cleanly, however many runs the walk took (its pages mark their rows with the walk's generation).
Channels take turns, so under a tight budget every channel makes progress (vendors.md §1.6).

No page is believed blindly (issue 10): a malformed page (`walk.read_page`), a replies walk whose
first page lacks its parent, or a message that cannot be keyed makes its scope (the channel's
window, or one thread) incomplete, so nothing there is swept. A scope that fails is a failed run
item naming it; the other channels go on in the same run, the failing one goes last next time,
and the run ends `partial` naming it.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.slack.client import SlackClient, SlackConfig, open_client, slack
from connectors.slack.models import check_ts, ts_key
from connectors.slack.walk import read_page, walk
from pipeline import (
    AccessLostError,
    AuthError,
    BudgetSpent,
    Change,
    Checkpoint,
    EntityLookup,
    IncompleteError,
    InvalidCursorError,
    MalformedPageError,
    Page,
    PipelineError,
    SourceContext,
    SourceError,
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
    """One channel's closed window and how far its walk got (all ts as strings).

    A walk may span several runs (a tight budget, a crash): every page of it marks its rows with
    the walk's `generation`, so the sweep at its end spares every row it saw, whichever run saw it.
    """

    lo: str
    hi: str
    cursor: str | None = None
    latest: str | None = None
    oldest_applied: str | None = None
    generation: str | None = None  # None: a window stored before generations; never swept
    started: str | None = None  # ISO time the walk began: rows written later are not candidates
    is_clean: bool = True  # every message of the walk could be keyed

    def state(self) -> dict[str, Any]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "cursor": self.cursor,
            "latest": self.latest,
            "oldest_applied": self.oldest_applied,
            "generation": self.generation,
            "started": self.started,
            "incomplete": not self.is_clean,
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
        self.failures: list[str] = []
        self.failed_channels: set[str] = set()  # whose own walk failed
        self.troubled: set[str] = set()  # where any scope (the window or a thread) failed

    def api_calls(self) -> Mapping[str, int]:
        return self.client.stats()

    def unreadable_scopes(self) -> Mapping[str, str]:
        return self.unreadable

    def pages(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        state: dict[str, Any] = {"channels": dict((checkpoint or {}).get("channels", {}))}
        channels = in_turn(self.member_channels(), state["channels"])
        for channel in channels:
            yield from self.isolated(channel, state)
        if self.failures:
            message = "; ".join(self.failures)
            if self.failed_channels.issuperset(channels):
                raise SourceError(message)  # nothing could be read: not a partial success
            raise IncompleteError(message)

    def isolated(self, channel: str, state: dict[str, Any]) -> Iterator[Page]:
        """One channel's pages; if its walk fails, a page naming it, and the next channel goes on."""
        try:
            yield from self.channel_pages(channel, state)
        except AccessLostError as exc:
            self.access_lost.append(channel)  # vendors.md §1.8: access lost, tombstone nothing
            self.unreadable[f"channel {channel}"] = f"access lost mid-walk: {exc}"
        except AuthError:
            raise  # the token, not the channel: every channel would fail the same way
        except SourceError as exc:
            self.failed_channels.add(channel)
            yield self.failed(channel, channel, f"channel {channel}: {exc}", state)

    def failed(self, channel: str, key: str, message: str, state: dict[str, Any]) -> Page:
        """A failed run item for a scope whose walk failed; the channel goes last next run."""
        self.note_failure(channel, message, state)
        return Page([Change.invalid(key, message)], checkpoint_of(state))

    def note_failure(self, channel: str, message: str, state: dict[str, Any]) -> None:
        self.failures.append(message)
        self.troubled.add(channel)
        state["channels"].setdefault(channel, {})["failed_at"] = self.run_start

    def member_channels(self) -> list[str]:
        found: list[str] = []
        pages = walk(  # list pages may come back empty mid-walk (vendors.md §1.2): not malformed
            self.client,
            "conversations.list",
            "channels",
            empty_is_last=False,
            types="public_channel,private_channel",
        )
        for items, _ in pages:
            found += [
                c["id"]
                for c in items
                if isinstance(c, dict)
                and isinstance(c.get("id"), str)
                and c.get("is_member")
                and not c.get("is_archived")
            ]
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
                w.get("generation"),
                w.get("started"),
                is_clean=not w.get("incomplete"),
            )
        high = stored.get("high_water")
        lo = "0" if high is None else to_ts(max(Decimal(0), ts_key(high) - self.lookback_s))
        started = datetime.fromtimestamp(float(self.run_start), UTC).isoformat()
        return Window(lo, self.run_start, generation=uuid.uuid4().hex, started=started)

    def channel_pages(self, channel: str, state: dict[str, Any]) -> Iterator[Page]:
        stored = dict(state["channels"].get(channel, {}))
        state["channels"][channel] = stored
        yield from self.thread_pages(channel, stored, state)  # replies an earlier run left pending
        window = self.window_for(stored)
        while True:
            body = self.history(channel, window)
            messages, window.cursor = read_page(body, "conversations.history", "messages")
            changes = self.message_changes(channel, messages, window)
            threads = self.moved_threads(channel, messages)
            done = window.cursor is None
            keyed = [ts for ts in map(ts_of, messages) if ts is not None]
            high = max(
                [stored.get("high_water"), *keyed],
                key=lambda t: ts_key(t) if t else Decimal(-1),
            )
            stored.update(high_water=high, window=None if done else window.state())
            if done:
                stored["synced_to"] = window.hi
                if not window.is_clean:
                    why = "messages without a usable ts; the window was not swept"
                    self.note_failure(channel, f"channel {channel}: {why}", state)
                if channel not in self.troubled:
                    stored.pop("failed_at", None)
            pending = list(stored.get("threads") or [])
            set_threads(stored, pending + [t for t in threads if t not in pending])
            sweeps = self.window_sweep(channel, window) if done else []
            yield Page(changes, checkpoint_of(state), sweeps, window.generation)
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
        window.is_clean = window.is_clean and all(c.error is None for c in changes)
        keyed = [ts for ts in map(ts_of, messages) if ts is not None]
        if keyed:
            oldest = min(keyed, key=ts_key)
            if window.oldest_applied is None or ts_key(oldest) < ts_key(window.oldest_applied):
                window.oldest_applied = oldest
        return changes

    def change(self, channel: str, message: Any) -> Change:
        """The change for one message; one that cannot be keyed is a failed item naming it."""
        ts = ts_of(message)
        if ts is None:
            raw = message.get("ts", "<missing>") if isinstance(message, dict) else "<missing>"
            return Change.invalid(
                f"{channel}:?ts={raw!r}"[:128], f"channel {channel}: {unkeyable(message, 'ts')}"
            )
        key = message_id(channel, ts)
        if message.get("subtype") == "tombstone":
            return Change.delete(key, "tombstone")  # vendors.md §1.4: deleted parent, thread kept
        return Change.upsert(key, {**OMITTED_WHEN_EMPTY, **message, "channel": channel})

    def moved_threads(self, channel: str, messages: list[dict[str, Any]]) -> list[str]:
        """Parents whose thread is new or whose `reply_count`/`latest_reply` moved (vendors.md §1.8)."""
        parents = {ts: m for m in messages if (ts := ts_of(m)) and m.get("thread_ts") == ts}
        if not parents:
            return []
        stored = self.lookup.lookup(message_id(channel, ts) for ts in parents)
        replies = self.lookup.count_live(
            "thread_ts", parents, {"channel": channel, "is_reply": True}
        )
        return [
            ts
            for ts, parent in parents.items()
            if thread_moved(parent, stored.get(message_id(channel, ts)), replies.get(ts, 0))
        ]

    def thread_pages(
        self, channel: str, stored: dict[str, Any], state: dict[str, Any]
    ) -> Iterator[Page]:
        """The replies of the pending threads, as one page that also takes them off the checkpoint.

        A thread stays pending in the checkpoint until its replies are committed: its parent was
        committed first, so comparing counters again next run would not notice it. When the budget
        runs out part-way (non-Marketplace: one `conversations.replies` per minute), the threads
        read so far are committed before the run ends, so repeated runs always make progress.
        A thread whose walk fails stays pending and is a failed item; the other threads go on.
        """
        pending = list(stored.get("threads") or [])
        changes: list[Change] = []
        sweeps: list[Sweep] = []
        done: list[str] = []
        try:
            for parent_ts in pending:
                try:
                    replies, sweep, unproven = self.thread(channel, parent_ts)
                except AuthError:
                    raise
                except SourceError as exc:
                    message = f"thread {channel}:{parent_ts}: {exc}"
                    self.note_failure(channel, message, state)
                    changes.append(Change.invalid(message_id(channel, parent_ts), message))
                    continue
                if unproven is not None:
                    self.note_failure(channel, f"thread {channel}:{parent_ts}: {unproven}", state)
                changes += replies
                sweeps += sweep
                done.append(parent_ts)
        except (BudgetSpent, PipelineError):
            if changes:
                set_threads(stored, [t for t in pending if t not in done])
                yield Page(changes, checkpoint_of(state), sweeps)
            raise
        if changes or done:
            set_threads(stored, [t for t in pending if t not in done])
            yield Page(changes, checkpoint_of(state), sweeps)

    def thread(self, channel: str, parent_ts: str) -> tuple[list[Change], list[Sweep], str | None]:
        """Every reply of a thread, its sweep if the walk proved the thread complete, else why not.

        The parent must lead the first page (vendors.md §1.2 replies shape); a page without it
        proves nothing about the thread. A thread that vanished (thread_not_found) is left alone.
        """
        replies: list[Change] = []
        parent: Any = None
        try:
            pages = walk(
                self.client, "conversations.replies", "messages", channel=channel, ts=parent_ts
            )
            for items, _ in pages:
                parent = parent or next((m for m in items if ts_of(m) == parent_ts), None)
                if parent is None:
                    raise MalformedPageError("conversations.replies: the page lacks the parent")
                replies += [self.change(channel, m) for m in items if ts_of(m) != parent_ts]
        except AccessLostError:
            return [], [], None  # thread_not_found: deleted since history; next run sees it
        if any(c.error is not None for c in replies):
            return replies, [], "replies without a usable ts; the thread was not swept"
        if reply_count(parent) != len(replies):
            why = f"{len(replies)} replies read but the parent counts {reply_count(parent)}"
            return replies, [], f"{why}; the thread was not swept"
        return replies, [self.thread_sweep(channel, parent_ts, replies)], None

    def thread_sweep(self, channel: str, parent_ts: str, replies: list[Change]) -> Sweep:
        """A thread walked completely: its stored replies that did not come back were deleted.

        Only called when the parent's `reply_count` agrees with the replies read: two signals of
        the vendor corroborate each other, so even emptying the thread is trusted. A disagreement
        sweeps nothing (a thread's max-fraction guard, made strict: a well-formed final page that
        drops replies would otherwise tombstone up to the fraction), and the thread is read again.
        """
        return Sweep(
            f"thread {channel}:{parent_ts}",
            {c.external_id for c in replies},
            where={"channel": channel, "thread_ts": parent_ts, "is_reply": True},
            max_fraction=1.0,
        )

    def window_sweep(self, channel: str, window: Window) -> list[Sweep]:
        """The window's sweep, once its walk ended on the vendor's end signal (however many runs
        it took): the live rows of the window its generation did not mark were deleted."""
        if window.generation is None or window.started is None or not window.is_clean:
            return []  # a message could not be keyed: absence proves nothing
        return [
            Sweep(
                f"channel {channel} window [{window.lo}, {window.hi}]",
                where={"channel": channel, "is_reply": False},
                between=("ts", window.lo, window.hi),
                max_fraction=self.max_fraction,
                generation=window.generation,
                written_before=datetime.fromisoformat(window.started),
            )
        ]


def in_turn(channels: list[str], stored: Mapping[str, Any]) -> list[str]:
    """Unfinished work first, then channels never synced, then the least recently synced.

    Under a tight budget (non-Marketplace: one history page per minute, vendors.md §1.6) a run
    ends after a page or two; without turns the first channel's next window would take every run.
    """

    def turn(channel: str) -> tuple[int, Decimal, str]:
        s = stored.get(channel) or {}
        if s.get("failed_at"):  # failed last time: after everyone else, so it never starves them
            return 3, ts_key(s["failed_at"]), channel
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


def thread_moved(
    parent: Mapping[str, Any], stored: Mapping[str, Any] | None, live_replies: int
) -> bool:
    """A thread needs reading when its parent is new with replies, its counters moved, or the
    replies stored live are not as many as the parent counts (a past read went wrong)."""
    now = (reply_count(parent), parent.get("latest_reply"))
    if stored is None:
        return now[0] > 0
    return now != (reply_count(stored), stored.get("latest_reply")) or live_replies != now[0]


def reply_count(message: Mapping[str, Any] | None) -> int:
    """The parent's `reply_count`, 0 when absent or not an integer (trust no shape)."""
    count = (message or {}).get("reply_count")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def ts_of(message: Any) -> str | None:
    """The message's `ts` if it is a Slack ts string (vendors.md §1.3), else None: unkeyable."""
    ts = message.get("ts") if isinstance(message, dict) else None
    if not isinstance(ts, str):
        return None
    try:
        return check_ts(ts)
    except ValueError:
        return None


def unkeyable(record: Any, key: str) -> str:
    """Why a record cannot be keyed, with an excerpt of it so an operator can find it."""
    raw = record.get(key, "<missing>") if isinstance(record, dict) else "<not an object>"
    excerpt = json.dumps(record, default=str, ensure_ascii=False)[:200]
    return f"a record with no usable {key} ({raw!r}) cannot be keyed: {excerpt}"


def run_start_ts(ctx: SourceContext) -> str:
    return to_ts(Decimal(str(ctx.clock.now().timestamp())))


def open_messages(ctx: SourceContext) -> MessagesSource:
    config = slack.validate(ctx.subscription.config, "slack-messages config")
    assert isinstance(config, SlackConfig)
    return MessagesSource(open_client(ctx, config), ctx.lookup, config, run_start_ts(ctx))
