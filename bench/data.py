"""Deterministic Slack-like messages and the pages of each benchmark scenario.

Every record is a raw `conversations.history` message (about 1 kB of JSON: text, a rich_text block,
reactions on a quarter of them, thread fields, the odd edit or file) plus its `channel`, keyed
`<channel>:<ts>` like the real `slack-messages` stream. Record *i* depends only on (seed, i, version),
so every run, process and path (engine, baseline, dlt) sees byte-identical input.

Scenarios over N records, 1000 changes per page:

- `initial`: records 0..N-1, version 1, into an empty database;
- `nochange`: the same N records again;
- `churn`: the same N records with 10 % edited (text or reactions), 1 % deleted (`Change.delete`),
  then 1 % new records (N..N+N/100-1) in extra pages at the end.

Pages are built lazily (memory must stay flat at 10⁶ records), and the time spent building them is
accounted separately (`Timed`) so that each path is charged only for its own work.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MASK = (1 << 64) - 1
PAGE_SIZE = 1000
SCENARIOS = ("initial", "nochange", "churn")
EDIT_PERMILLE = 100  # 10 % edited
DELETE_PERMILLE = 10  # 1 % deleted
NEW_PERCENT = 1  # 1 % new

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_WORDS = [
    "deploy",
    "ship",
    "review",
    "merge",
    "the",
    "a",
    "to",
    "of",
    "fix",
    "bug",
    "build",
    "release",
    "metrics",
    "latency",
    "cache",
    "queue",
    "retry",
    "shard",
    "index",
    "schema",
    "migration",
    "rollback",
    "config",
    "flag",
    "token",
    "budget",
    "window",
    "cursor",
    "page",
    "incident",
    "postmortem",
    "oncall",
    "dashboard",
    "alert",
    "canary",
    "rollout",
    "staging",
    "prod",
    "customer",
    "ticket",
    "sprint",
    "roadmap",
    "café",
    "naïve",
    "résumé",
    "Zürich",
    "東京",
    "données",
    "façade",
    "jalapeño",
    "straße",
    "коммит",
    "🚀",
    "✅",
    "🔥",
    "👀",
]
_EMOJI = (
    "tada",
    "eyes",
    "white_check_mark",
    "rocket",
    "fire",
    "thinking_face",
    "+1",
    "heart",
    "pray",
)
_BASE_TS = 1_700_000_000


def mix(*parts: int) -> int:
    """splitmix64-style hash of integers (stable across processes, unlike `hash()` on strings)."""
    h = 0x9E3779B97F4A7C15
    for part in parts:
        h = ((h ^ (part & MASK)) * 0xBF58476D1CE4E5B9) & MASK
        h = ((h ^ (h >> 29)) * 0x94D049BB133111EB) & MASK
        h ^= h >> 32
    return h


def _slack_id(prefix: str, n: int) -> str:
    h, chars = mix(n, ord(prefix), 77), []
    for _ in range(8):
        h, r = divmod(h, len(_ALPHABET))
        chars.append(_ALPHABET[r])
    return prefix + "0" + "".join(chars)


CHANNELS = tuple(_slack_id("C", i) for i in range(20))
USERS = tuple(_slack_id("U", i) for i in range(40))
TEAM = _slack_id("T", 0)
# A long cycle of words: a message's text is a slice of it, so building one costs a join, not a loop.
_CYCLE = [_WORDS[mix(i, 3) % len(_WORDS)] for i in range(8192)]


def ts_of(i: int) -> str:
    return f"{_BASE_TS + i}.{mix(i, 11) % 1_000_000:06d}"


def channel_of(i: int) -> str:
    return CHANNELS[i % len(CHANNELS)]


def key_of(i: int) -> str:
    return f"{channel_of(i)}:{ts_of(i)}"


def message(i: int, seed: int = 0, version: int = 1) -> dict[str, Any]:
    """Raw record i (with `channel`), as the Slack stream hands it to the engine."""
    h = mix(seed, i)
    ts = ts_of(i)
    user = USERS[h % len(USERS)]
    start = (h >> 8) % 8000
    words = _CYCLE[start : start + 18 + (h >> 20) % 30]
    mention = USERS[(h >> 28) % len(USERS)]
    emoji = _EMOJI[(h >> 34) % len(_EMOJI)]
    head, tail = " ".join(words[:6]), " ".join(words[6:])
    text = f"{head} <@{mention}> {tail} :{emoji}:"
    msg: dict[str, Any] = {
        "type": "message",
        "ts": ts,
        "user": user,
        "text": text,
        "team": TEAM,
        "client_msg_id": f"{h & 0xFFFFFFFF:08x}-{(h >> 32) & 0xFFFF:04x}-4{(h >> 48) & 0xFFF:03x}-8000-{mix(h, 1) & 0xFFFFFFFFFFFF:012x}",
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "".join(_ALPHABET[(h >> (5 * k)) % 34] for k in range(5)),
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": head + " "},
                            {"type": "user", "user_id": mention},
                            {"type": "text", "text": " " + tail + " "},
                            {"type": "emoji", "name": emoji},
                        ],
                    }
                ],
            }
        ],
        "channel": channel_of(i),
    }
    roll = (h >> 40) % 100
    if roll < 25:
        msg["reactions"] = _reactions(h, 1 + (h >> 46) % 3)
    shape = (h >> 50) % 100
    if shape < 10:  # a thread parent
        count = 1 + (h >> 56) % 8
        msg.update(
            thread_ts=ts,
            reply_count=count,
            reply_users_count=min(count, 3),
            reply_users=[USERS[(h >> k) % len(USERS)] for k in range(min(count, 3))],
            latest_reply=f"{_BASE_TS + i}.{999_000 + count:06d}",
            is_locked=False,
            subscribed=False,
        )
    elif shape < 25:  # a reply shown in history (thread_broadcast)
        parent = max(i - 1 - (h >> 56) % 50, 0)
        msg.update(
            subtype="thread_broadcast",
            thread_ts=ts_of(parent),
            parent_user_id=USERS[mix(seed, parent) % len(USERS)],
        )
    elif shape < 28:
        msg.update(
            subtype="file_share",
            upload=True,
            files=[
                {
                    "id": _slack_id("F", i),
                    "name": f"report-{i % 97}.png",
                    "mimetype": "image/png",
                    "filetype": "png",
                    "size": 10_000 + h % 5_000_000,
                    "user": user,
                    "url_private": f"https://files.example/{TEAM}/{i}/report.png",
                }
            ],
        )
    if (h >> 58) % 10 == 0:
        msg["edited"] = {"user": user, "ts": f"{_BASE_TS + i + 60}.000000"}
    if version > 1:
        _edit(msg, h, version)
    return msg


def _reactions(h: int, count: int) -> list[dict[str, Any]]:
    out = []
    for k in range(count):
        users = [USERS[mix(h, k, j) % len(USERS)] for j in range(1 + (h >> (k + 3)) % 4)]
        out.append(
            {"name": _EMOJI[(h >> (4 * k)) % len(_EMOJI)], "users": users, "count": len(users)}
        )
    return out


def _edit(msg: dict[str, Any], h: int, version: int) -> None:
    """Version 2+: half the edits change the text (with `edited`), half add a reaction."""
    if (h >> 7) % 2 == 0:
        msg["text"] = f"{msg['text']} (edit {version})"
        msg["blocks"][0]["elements"][0]["elements"].append(
            {"type": "text", "text": f" (edit {version})"}
        )
        msg["edited"] = {
            "user": msg["user"],
            "ts": f"{int(msg['ts'].split('.')[0]) + 3600 * version}.000000",
        }
    else:
        reactions = list(msg.get("reactions") or [])
        reactions.append(
            {
                "name": "eyes" if version % 2 else "tada",
                "users": [USERS[h % len(USERS)]],
                "count": 1,
            }
        )
        msg["reactions"] = reactions


def fate(i: int, seed: int = 0) -> str:
    """What churn does to record i: `edit` (10 %), `delete` (1 %) or `keep`."""
    roll = mix(seed, i, 5) % 1000
    if roll < EDIT_PERMILLE:
        return "edit"
    if roll < EDIT_PERMILLE + DELETE_PERMILLE:
        return "delete"
    return "keep"


@dataclass(frozen=True)
class Op:
    """One change of a scenario page: upsert `record` under `key`, or delete `key` (record None)."""

    key: str
    record: dict[str, Any] | None


def scenario_ops(scenario: str, records: int, seed: int = 0) -> Iterator[list[Op]]:
    """The pages of a scenario as lists of `Op` (built lazily, one page at a time)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    for start in range(0, records, PAGE_SIZE):
        page = []
        for i in range(start, min(start + PAGE_SIZE, records)):
            what = fate(i, seed) if scenario == "churn" else "keep"
            if what == "delete":
                page.append(Op(key_of(i), None))
            else:
                page.append(Op(key_of(i), message(i, seed, 2 if what == "edit" else 1)))
        yield page
    if scenario == "churn":
        extra = records * NEW_PERCENT // 100
        for start in range(records, records + extra, PAGE_SIZE):
            yield [
                Op(key_of(i), message(i, seed))
                for i in range(start, min(start + PAGE_SIZE, records + extra))
            ]


def scenario_size(scenario: str, records: int) -> int:
    """How many changes a scenario hands over (what records/s is counted on)."""
    return records + (records * NEW_PERCENT // 100 if scenario == "churn" else 0)


def expected(scenario: str, records: int, seed: int = 0) -> dict[str, int]:
    """The created/updated/deleted/noop counts a correct sync must report (sanity check)."""
    if scenario == "initial":
        return {"created": records, "updated": 0, "deleted": 0, "noop": 0}
    if scenario == "nochange":
        return {"created": 0, "updated": 0, "deleted": 0, "noop": records}
    counts = {"edit": 0, "delete": 0, "keep": 0}
    for i in range(records):
        counts[fate(i, seed)] += 1
    return {
        "created": records * NEW_PERCENT // 100,
        "updated": counts["edit"],
        "deleted": counts["delete"],
        "noop": counts["keep"],
    }


class Timed:
    """Wraps a page iterator and adds up the time spent producing pages (excluded from a path's time)."""

    def __init__(self, pages: Iterator[Any]) -> None:
        self._pages = pages
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __iter__(self) -> Iterator[Any]:
        while True:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                page = next(self._pages)
            except StopIteration:
                return
            finally:
                self.seconds += time.perf_counter() - started
                self.cpu_seconds += time.process_time() - cpu
            yield page
