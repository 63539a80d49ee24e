"""Seeded message content, rendered on demand from (seed, channel index, ts).

Nothing is stored per seeded message: `SeededContent.generate` derives each message from a
64-bit hash, so 10⁶ messages cost only their timestamps until read (vendors.md §6.1.1). Content
covers §1.3/§1.4/§6.2.9: rich_text blocks, reactions, edits, file shares, `channel_join`,
`me_message`, `bot_message`, thread replies and `thread_broadcast`, with Unicode, emoji and the
odd long text.
"""

from __future__ import annotations

import random
from typing import Any

from .workspace import SLACKBOT, Channel, Message, Workspace, format_ts

MASK = (1 << 64) - 1
ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
# fmt: off
WORDS = (
    "deploy", "ship", "review", "merge", "the", "a", "to", "of", "fix", "bug", "build", "release",
    "metrics", "latency", "cache", "queue", "retry", "shard", "index", "schema", "migration",
    "rollback", "config", "flag", "token", "budget", "window", "cursor", "page", "café", "naïve",
    "résumé", "Zürich", "東京", "données", "façade", "jalapeño", "straße", "ünïcödé", "коммит",
    "🚀", "✅", "🔥", "👀",
)
# fmt: on
EMOJI = ("tada", "eyes", "white_check_mark", "rocket", "fire", "thinking_face", "+1", "heart")


def mix(*parts: int) -> int:
    """A 64-bit hash of integers (FNV-style fold, splitmix64 finalizer): stable across runs,
    unlike `hash()` on strings, and cheap enough to call a few times per rendered message."""
    h = 0xCBF29CE484222325
    for part in parts:
        h = ((h ^ (part & MASK)) * 0x100000001B3) & MASK
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & MASK
    return h ^ (h >> 31)


def slack_id(prefix: str, n: int, salt: int = 0) -> str:
    """A realistic-looking id ("C0…", "U0…", "B0…", "F0…") that depends only on `n` and `salt`."""
    h, chars = mix(salt, n, ord(prefix)), []
    for _ in range(8):
        h, r = divmod(h, len(ALPHABET))
        chars.append(ALPHABET[r])
    return prefix + "0" + "".join(chars)


class _Bits:
    """Cheap deterministic choices from one hash (a Random() per message would cost 10× more)."""

    def __init__(self, h: int) -> None:
        self.h, self.n, self.pool = h, 0, h

    def below(self, n: int) -> int:
        if self.pool < n << 10:  # spent: draw 64 fresh bits
            self.n += 1
            self.pool = mix(self.h, self.n)
        self.pool, value = divmod(self.pool, n)
        return value

    def chance(self, per_mille: int) -> bool:
        return self.below(1000) < per_mille


class SeededContent:
    """Renders seeded messages from (seed, channel index, ts): nothing stored per message.

    Text is one or two passages from a pool built once per seed (512² combinations), each with
    its rich_text elements, so rendering costs microseconds, not a random draw per word.
    """

    def __init__(self, seed: int, workspace: Workspace, *, deploy_bot: dict[str, Any], now_us: int):
        self.seed = seed
        self.team_id = workspace.team_id
        self.human_ids: list[str] = [
            u["id"] for u in workspace.users.values() if not u["is_bot"] and u["id"] != SLACKBOT
        ]
        self.deploy_bot = deploy_bot
        self.now_us = now_us
        rng = random.Random(seed)
        self.passages = [self._passage(rng) for _ in range(512)]

    def kind(self, ch: Channel, us: int) -> str:
        """The top-level message kind; fixed per ts, so a later reply never changes it."""
        roll = mix(self.seed, ch.index, us) % 1000
        for bound, kind in (
            (40, "bot_message"),
            (70, "file_share"),
            (100, "channel_join"),
            (115, "me_message"),
        ):
            if roll < bound:
                return kind
        return "plain"

    def author(self, ch: Channel, us: int) -> str | None:
        if us not in ch.parent_of and self.kind(ch, us) == "bot_message":
            return None  # bot_message carries bot_id, no user (§6.2.9)
        return self.human_ids[(mix(self.seed, ch.index, us) >> 12) % len(self.human_ids)]

    def generate(self, ch: Channel, us: int, *, parent_us: int | None, broadcast: bool) -> Message:
        bits = _Bits(mix(self.seed, ch.index, us, 7))
        if parent_us is not None:
            msg = self._user_message(ch, us, bits)
            msg.update(thread_ts=format_ts(parent_us), parent_user_id=self.author(ch, parent_us))
            if broadcast:
                msg["subtype"] = "thread_broadcast"
            return msg
        kind = self.kind(ch, us)
        if kind == "bot_message":
            return self._bot_message(us, bits)
        if kind == "channel_join":
            user = self.author(ch, us)
            return self._base(
                us, user, subtype="channel_join", text=f"<@{user}> has joined the channel"
            )
        msg = self._user_message(ch, us, bits)
        if kind == "me_message":
            msg.update(subtype="me_message", text=f"is {self.passages[bits.below(512)][0]}")
            msg.pop("blocks")
        elif kind == "file_share":
            msg.update(
                subtype="file_share",
                upload=True,
                display_as_bot=False,
                files=[self._file(us, msg, bits)],
            )
        return msg

    def _base(self, us: int, user: str | None, **fields: Any) -> Message:
        msg: Message = {"type": "message", "ts": format_ts(us)}
        if user:
            msg["user"] = user
        msg.update(fields)
        return msg

    def _user_message(self, ch: Channel, us: int, bits: _Bits) -> Message:
        text, blocks = self._text(bits)
        msg = self._base(us, self.author(ch, us), text=text, team=self.team_id)
        msg["client_msg_id"] = _uuid4(mix(bits.h, 1) << 64 | mix(bits.h, 2))
        msg["blocks"] = blocks
        if bits.chance(250):
            msg["reactions"] = self._reactions(bits)
        edited_us = us + (5 + bits.below(7200)) * 1_000_000
        if bits.chance(100) and edited_us < self.now_us:
            msg["edited"] = {"user": msg["user"], "ts": format_ts(edited_us)}
        return msg

    def _passage(self, rng: random.Random) -> tuple[str, list[dict[str, Any]]]:
        """Some words with mentions, emoji and Unicode, and its rich_text elements."""
        parts: list[str] = []
        elements: list[dict[str, Any]] = []
        for _ in range(rng.randint(5, 22)):
            roll = rng.random()
            if roll < 0.05:
                uid = rng.choice(self.human_ids)
                parts.append(f"<@{uid}>")
                elements.append({"type": "user", "user_id": uid})
            elif roll < 0.10:
                name = rng.choice(EMOJI)
                parts.append(f":{name}:")
                elements.append({"type": "emoji", "name": name})
            else:
                parts.append(rng.choice(WORDS))
                elements.append({"type": "text", "text": parts[-1]})
        merged: list[dict[str, Any]] = []
        for i, el in enumerate(elements):
            if i:
                _append(merged, {"type": "text", "text": " "})
            _append(merged, el)
        return " ".join(parts), merged

    def _text(self, bits: _Bits) -> tuple[str, list[dict[str, Any]]]:
        """Plain text and the matching rich_text block; one message in 50 is long."""
        count = 40 if bits.chance(20) else 1 + bits.below(2)
        passages = [self.passages[bits.below(512)] for _ in range(count)]
        section = {
            "type": "rich_text_section",
            "elements": _join_elements([p[1] for p in passages]),
        }
        block_id = "".join(ALPHABET[bits.below(len(ALPHABET))] for _ in range(5))
        return " ".join(p[0] for p in passages), [
            {"type": "rich_text", "block_id": block_id, "elements": [section]}
        ]

    def _reactions(self, bits: _Bits) -> list[dict[str, Any]]:
        out = []
        for name in dict.fromkeys(EMOJI[bits.below(len(EMOJI))] for _ in range(1 + bits.below(3))):
            users = list(
                dict.fromkeys(
                    self.human_ids[bits.below(len(self.human_ids))]
                    for _ in range(1 + bits.below(4))
                )
            )
            out.append({"name": name, "users": users, "count": len(users)})
        return out

    def _bot_message(self, us: int, bits: _Bits) -> Message:
        bot = self.deploy_bot
        build = 1000 + bits.below(9000)
        env = ("prod", "staging")[bits.below(2)]
        return self._base(
            us,
            None,
            subtype="bot_message",
            text=f"Deploy #{build} finished :white_check_mark:",
            bot_id=bot["id"],
            username=bot["name"],
            bot_profile=bot,
            attachments=[
                {
                    "id": 1,
                    "color": "36a64f",
                    "fallback": f"Deploy #{build}",
                    "title": f"Deploy #{build}",
                    "fields": [{"title": "env", "value": env, "short": True}],
                }
            ],
        )

    def _file(self, us: int, msg: Message, bits: _Bits) -> dict[str, Any]:
        fid = slack_id("F", us, self.seed)
        name = f"{('report', 'diagram', 'notes')[bits.below(3)]}-{1 + bits.below(99)}.png"
        url = f"https://files.slack.com/files-pri/{self.team_id}-{fid}/{name}"
        return {
            "id": fid,
            "created": us // 1_000_000,
            "timestamp": us // 1_000_000,
            "name": name,
            "title": name,
            "mimetype": "image/png",
            "filetype": "png",
            "pretty_type": "PNG",
            "user": msg["user"],
            "mode": "hosted",
            "editable": False,
            "is_external": False,
            "is_public": True,
            "size": 10_000 + bits.below(5_000_000),
            "url_private": url,
            "url_private_download": url + "?dl=1",
            "permalink": f"https://sandbox.slack.com/files/{msg['user']}/{fid}/{name}",
        }


def _uuid4(n: int) -> str:
    """A version-4 UUID string from 128 bits (str(uuid.UUID(...)) costs 3× more)."""
    x = f"{n:032x}"
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{'89ab'[int(x[16], 16) & 3]}{x[17:20]}-{x[20:]}"


def _join_elements(groups: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Concatenate rich_text element groups with a space between groups, merging neighbouring
    text runs as Slack clients do. Input dicts are shared between messages, so never mutated."""
    out: list[dict[str, Any]] = []
    for group in groups:
        if out:
            _append(out, {"type": "text", "text": " "})
        _append(out, group[0])
        out.extend(group[1:])  # a group's own elements are already merged
    return out


def _append(out: list[dict[str, Any]], el: dict[str, Any]) -> None:
    if el["type"] == "text" and out and out[-1]["type"] == "text":
        out[-1] = {"type": "text", "text": out[-1]["text"] + el["text"]}
    else:
        out.append(el)
