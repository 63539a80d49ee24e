"""Canonical Slack models (vendors.md §1.3): what we store as `data` and diff field by field.

`ts` values stay strings and are compared as decimals, never floats (vendors.md §1.3).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")


def check_ts(value: str | None) -> str | None:
    if value is not None and not _TS.match(value):
        raise ValueError(f"not a Slack ts: {value!r}")
    return value


def ts_key(ts: str) -> Decimal:
    """Order Slack timestamps exactly (a 16-digit ts is at the edge of float precision)."""
    return Decimal(ts)


class Message(BaseModel):
    """A top-level message or a thread reply, keyed `<channel>:<ts>`."""

    model_config = ConfigDict(extra="ignore")

    channel: str
    ts: str
    thread_ts: str | None = None
    is_reply: bool = False
    user: str | None = None
    bot_id: str | None = None
    subtype: str | None = None
    text: str | None = None
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    files: list[dict[str, Any]] | None = None
    reactions: list[dict[str, Any]] | None = None
    edited_ts: str | None = None
    edited_by: str | None = None
    reply_count: int | None = None
    reply_users: list[str] | None = None
    latest_reply: str | None = None
    parent_user_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        flat = dict(raw)
        # Only what the record carries is set: a sparse webhook record (vendors.md §1.7) leaves
        # the rest unset, and the engine keeps the stored values of unset fields.
        if raw.get("thread_ts") is not None:
            flat["is_reply"] = raw["thread_ts"] != raw.get("ts")
        if "edited" in raw:
            edited = raw["edited"] or {}
            flat.update(edited_ts=edited.get("ts"), edited_by=edited.get("user"))
        return flat

    _ts = field_validator("ts", "thread_ts", "edited_ts", "latest_reply")(check_ts)


class Channel(BaseModel):
    """A conversation from `conversations.list`."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str | None = None
    is_private: bool | None = None
    is_archived: bool | None = None
    is_member: bool | None = None
    num_members: int | None = None
    created: int | None = None
    creator: str | None = None
    topic: dict[str, Any] | None = None
    purpose: dict[str, Any] | None = None


class User(BaseModel):
    """A member from `users.list`; a deactivated user keeps its row with `deleted: true`."""

    model_config = ConfigDict(extra="ignore")

    id: str
    team_id: str | None = None
    name: str | None = None
    real_name: str | None = None
    deleted: bool | None = None
    is_bot: bool | None = None
    is_admin: bool | None = None
    tz: str | None = None
    profile: dict[str, Any] | None = None
    updated: int | None = None
