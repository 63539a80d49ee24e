"""Deterministic seeded workspaces: `seed_workspace(seed, …)` and seeded bulk churn.

Same seed, sizes and `now` → byte-identical data (vendors.md §6.1.1). Only a skeleton of integer
timestamps is built up front (the thread layout included); message content comes from
`content.SeededContent` when a message is read, so a 10⁶-message workspace builds in seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .content import SeededContent, mix, slack_id
from .workspace import DEFAULT_NOW, SLACKBOT, Channel, SandboxClock, Workspace, format_ts

FIRST_NAMES = ("ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "alan")
# (name, is_private, is_member, is_archived): the bot is not in #watercooler; vendors.md §1.5
CHANNEL_ROLES = (
    ("general", False, True, False),
    ("random", False, True, False),
    ("engineering", True, True, False),
    ("watercooler", False, False, False),
    ("announcements-2024", False, True, True),
)


def seed_workspace(
    seed: int = 0,
    *,
    channels: int = 5,
    messages_per_channel: int = 60,
    users: int = 10,
    thread_ratio: float = 0.15,
    broadcast_ratio: float = 0.2,
    span_days: float = 14.0,
    now: float | None = None,
    clock: Callable[[], object] | None = None,
) -> Workspace:
    """A deterministic workspace: `messages_per_channel` top-level messages (plus thread replies).

    Channels are #general, #random, #engineering (private), #watercooler (the bot is NOT a member),
    #announcements-2024 (archived), then #project-NN. Users are the sandbox bot, a deploy bot, and
    humans, every fourth of whom is deactivated; USLACKBOT is listed too. Ids depend only on
    position, so they are the same for every seed. Messages end just before `now` (default: the
    linked `clock`, else 2026-01-01T00:00:00Z) and span `span_days`.
    """
    start = now if now is not None else (SandboxClock(source=clock).now() if clock else DEFAULT_NOW)
    ws = Workspace(team_id=slack_id("T", 0), bot_user_id=slack_id("U", 0), bot_id=slack_id("B", 0))
    ws.clock = SandboxClock(start=start, source=clock)
    if clock is not None and now is not None:
        ws.clock.set(now)
    now_us = int(start * 1_000_000)
    deploy_bot = _add_users(ws, max(users, 3), int(start))
    ws.content = content = SeededContent(seed, ws, deploy_bot=deploy_bot, now_us=now_us)
    span_us = int(span_days * 86_400 * 1_000_000)
    for index in range(channels):
        ch = _add_channel(ws, index, int(start - span_days * 86_400 - 86_400 * 30))
        _seed_messages(
            ch, content, messages_per_channel, span_us, now_us, thread_ratio, broadcast_ratio
        )
    return ws


def _add_users(ws: Workspace, count: int, now_s: int) -> dict[str, Any]:
    """Users: sandbox bot, deploy bot, humans, plus USLACKBOT; returns the deploy bot's profile."""
    deploy_bot: dict[str, Any] = {
        "id": slack_id("B", 1),
        "deleted": False,
        "name": "deploybot",
        "updated": now_s,
        "app_id": slack_id("A", 1),
        "icons": {"image_48": "https://a.slack-edge.com/bot_48.png"},
        "team_id": ws.team_id,
    }
    ws.users[SLACKBOT] = _user(ws, SLACKBOT, "slackbot", now_s)
    ws.users[ws.bot_user_id] = _user(ws, ws.bot_user_id, "sandbox-bot", now_s, bot_id=ws.bot_id)
    deploy_uid = slack_id("U", 1)
    ws.users[deploy_uid] = _user(ws, deploy_uid, "deploybot", now_s, bot_id=deploy_bot["id"])
    for i in range(count - 2):
        uid = slack_id("U", i + 2)
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]}{'' if i < len(FIRST_NAMES) else i}"
        ws.users[uid] = _user(ws, uid, name, now_s - i * 3600, deleted=(i % 4 == 3))
    return deploy_bot


def _user(
    ws: Workspace, uid: str, name: str, updated: int, *, bot_id: str = "", deleted: bool = False
) -> dict[str, Any]:
    real = name.replace("-", " ").title()
    profile: dict[str, Any] = {
        "real_name": real,
        "real_name_normalized": real,
        "display_name": name,
        "display_name_normalized": name,
        "status_text": "",
        "status_emoji": "",
        "image_48": f"https://avatars.slack-edge.com/{uid}_48.png",
        "team": ws.team_id,
    }
    if bot_id:
        profile.update(bot_id=bot_id, always_active=True)
    elif uid != SLACKBOT:
        profile["email"] = f"{name}@sandbox.example"
    return {
        "id": uid,
        "team_id": ws.team_id,
        "name": name,
        "deleted": deleted,
        "real_name": real,
        "tz": "Europe/Paris",
        "tz_offset": 3600,
        "is_admin": False,
        "is_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": bool(bot_id),
        "is_app_user": False,
        "updated": updated,
        "profile": profile,
    }


def _add_channel(ws: Workspace, index: int, created: int) -> Channel:
    name, private, member, archived = (
        CHANNEL_ROLES[index]
        if index < len(CHANNEL_ROLES)
        else (f"project-{index:02d}", False, True, False)
    )
    ch = Channel(
        id=slack_id("C", index),
        name=name,
        index=index,
        created=created,
        creator=ws.default_user(),
        is_private=private,
        is_archived=archived,
        is_general=(name == "general"),
        is_member=member,
        topic=f"All about {name}",
        purpose=f"The {name} channel",
    )
    ws.channels[ch.id] = ch
    return ch


def _seed_messages(
    ch: Channel,
    content: SeededContent,
    n: int,
    span_us: int,
    now_us: int,
    thread_ratio: float,
    broadcast_ratio: float,
) -> None:
    """Lay out ts: top level i at start + i·gap + jitter; its replies fall strictly before i+1."""
    gap = max(span_us // max(n, 1), 4_000)
    start = now_us - (n + 1) * gap
    for i in range(n):
        h = mix(content.seed, ch.index, i)
        us = start + i * gap + h % (gap // 4)
        ch.timeline.append(us)
        ch.last_us = us
        if content.kind(ch, us) != "plain" or (h >> 20) % 1000 >= thread_ratio * 1000:
            continue
        count = 1 + (h >> 32) % 6
        step = (gap // 2) // count
        replies = [us + gap // 4 + j * step + 1 for j in range(count)]
        ch.threads[us] = replies
        for j, reply in enumerate(replies):
            ch.parent_of[reply] = us
            if mix(h, j) % 1000 < broadcast_ratio * 1000:
                ch.timeline.append(reply)
        ch.last_us = replies[-1]


def churn(
    ws: Workspace, seed: int, *, edit_ratio: float = 0.05, delete_ratio: float = 0.02
) -> dict[str, int]:
    """Seeded bulk edits and deletes across every channel, for benchmarks (§6.1.3)."""
    rng, edited, deleted = random.Random(seed), 0, 0
    for ch in list(ws.channels.values()):
        for us in ws.all_ts(ch):
            roll = rng.random()
            if roll >= delete_ratio + edit_ratio or not ws.exists(ch, us):
                continue
            subtype = ws.base(ch, us).get("subtype")
            if roll < delete_ratio and subtype != "tombstone":
                ws.delete(ch.id, format_ts(us))
                deleted += 1
            elif roll >= delete_ratio and subtype not in (
                "tombstone",
                "bot_message",
                "channel_join",
            ):
                ws.edit(ch.id, format_ts(us), f"churned {rng.randint(0, 10**6)} ✏️")
                edited += 1
    return {"edited": edited, "deleted": deleted}
