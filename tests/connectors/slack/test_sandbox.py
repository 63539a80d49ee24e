"""The Slack sandbox behaves like Slack where a sync depends on it (vendors.md §1, §6.2).

All in-process (httpx WSGI transport) and on fake time: nothing here sleeps.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest

from connectors.slack.sandbox import Sandbox, format_ts, parse_ts, seed_workspace
from pipeline.http.clock import FakeClock


def api(sandbox: Sandbox, method: str, **params: Any) -> dict[str, Any]:
    return sandbox.call(method, **params).json()  # type: ignore[no-any-return]


def walk(sandbox: Sandbox, method: str, **params: Any) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; returns every page's body."""
    pages, cursor = [], params.pop("cursor", "")
    while True:
        body = api(sandbox, method, **params, **({"cursor": cursor} if cursor else {}))
        assert body["ok"], body
        pages.append(body)
        cursor = body["response_metadata"]["next_cursor"]
        if not cursor:
            return pages


def history_ts(sandbox: Sandbox, channel: str, **params: Any) -> list[str]:
    return [
        m["ts"]
        for page in walk(sandbox, "conversations.history", channel=channel, **params)
        for m in page["messages"]
    ]


def thread_parent(sandbox: Sandbox, channel: str) -> str:
    return format_ts(next(iter(sandbox.workspace.channel(channel).threads)))


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=1, regime="unlimited")


# -- seed ---------------------------------------------------------------------------------------


def test_same_seed_builds_an_identical_workspace() -> None:
    assert Sandbox(seed=5).state() == Sandbox(seed=5).state()
    assert Sandbox(seed=5).state()["messages"] != Sandbox(seed=6).state()["messages"]


def test_seed_covers_the_shapes_a_sync_meets(sandbox: Sandbox) -> None:
    state = sandbox.state()
    channels = {c["name"]: c for c in state["channels"]}
    messages = [m for ms in state["messages"].values() for m in ms]
    subtypes = {m.get("subtype") for m in messages}

    assert (
        not channels["watercooler"]["is_member"] and channels["announcements-2024"]["is_archived"]
    )
    assert {"bot_message", "file_share", "channel_join", "thread_broadcast"} <= subtypes
    assert any(u["deleted"] for u in state["users"]) and any(u["is_bot"] for u in state["users"])
    assert any("reactions" in m for m in messages) and any("edited" in m for m in messages)
    assert all(re.fullmatch(r"\d{10}\.\d{6}", m["ts"]) for m in messages)
    for ms in state["messages"].values():
        assert len({m["ts"] for m in ms}) == len(ms)


def test_big_workspace_builds_lazily() -> None:
    ws = seed_workspace(3, channels=2, messages_per_channel=20_000)

    assert sum(len(ch.timeline) for ch in ws.channels.values()) >= 40_000
    assert all(not ch.overlay for ch in ws.channels.values())


# -- history ------------------------------------------------------------------------------------


def test_history_is_newest_first_top_level_and_broadcasts_only(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")

    stamps = history_ts(sandbox, general, limit=200)

    assert stamps == sorted(stamps, key=parse_ts, reverse=True)
    replies = [
        m for m in sandbox.state()["messages"][general] if m.get("thread_ts", m["ts"]) != m["ts"]
    ]
    shown = set(stamps)
    assert all((m["ts"] in shown) == (m.get("subtype") == "thread_broadcast") for m in replies)


def test_time_bounds_are_exclusive_unless_inclusive(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    stamps = history_ts(sandbox, general)
    latest, oldest = stamps[3], stamps[8]

    exclusive = history_ts(sandbox, general, oldest=oldest, latest=latest)
    inclusive = history_ts(sandbox, general, oldest=oldest, latest=latest, inclusive=1)

    assert exclusive == stamps[4:8]
    assert inclusive == stamps[3:9]


def test_cursor_walk_over_short_and_empty_pages_returns_each_message_once(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    expected = history_ts(sandbox, general)
    sandbox.faults.short_pages(size=3, page=2)
    sandbox.faults.short_pages(size=0, page=4)

    pages = walk(sandbox, "conversations.history", channel=general, limit=10)

    assert [m["ts"] for p in pages for m in p["messages"]] == expected
    assert [len(p["messages"]) for p in pages][:4] == [10, 3, 10, 0]
    assert all(p["has_more"] for p in pages[:-1]) and not pages[-1]["has_more"]
    cursors = [p["response_metadata"]["next_cursor"] for p in pages]
    assert len(set(cursors)) == len(cursors)
    assert base64.b64decode(cursors[0]).startswith(b"next_ts:")


def test_cursor_stays_valid_when_messages_are_posted_and_deleted_mid_walk(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    expected = history_ts(sandbox, general)
    first = api(sandbox, "conversations.history", channel=general, limit=5)
    sandbox.workspace.post(general, "new and above the walk")
    sandbox.workspace.delete(general, expected[7])

    rest = history_ts(sandbox, general, cursor=first["response_metadata"]["next_cursor"])

    assert rest == [ts for ts in expected[5:] if ts != expected[7]]


def test_history_of_a_channel_the_bot_left_is_not_in_channel(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    sandbox.workspace.remove_bot(general)

    assert (
        api(sandbox, "conversations.history", channel=sandbox.channel("watercooler"))["error"]
        == "not_in_channel"
    )
    assert api(sandbox, "conversations.history", channel=general)["error"] == "not_in_channel"
    assert api(sandbox, "conversations.history", channel="C0NOPE")["error"] == "channel_not_found"


def test_invalid_cursor_for_injected_page_tampered_and_invalidated_cursors(
    sandbox: Sandbox,
) -> None:
    general = sandbox.channel("general")
    cursor = api(sandbox, "conversations.history", channel=general, limit=5)["response_metadata"][
        "next_cursor"
    ]
    sandbox.faults.invalid_cursor(method="conversations.history", page=2)

    assert (
        api(sandbox, "conversations.history", channel=general, cursor=cursor)["error"]
        == "invalid_cursor"
    )
    assert api(sandbox, "conversations.history", channel=general, cursor=cursor)["ok"]
    forged = base64.b64encode(b"next_ts:1700000000000000").decode()
    assert (
        api(sandbox, "conversations.history", channel=general, cursor=forged)["error"]
        == "invalid_cursor"
    )
    sandbox.invalidate_cursors()
    assert (
        api(sandbox, "conversations.history", channel=general, cursor=cursor)["error"]
        == "invalid_cursor"
    )


def test_malformed_time_bounds_are_rejected(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")

    assert (
        api(sandbox, "conversations.history", channel=general, oldest="yesterday")["error"]
        == "invalid_ts_oldest"
    )
    assert (
        api(sandbox, "conversations.history", channel=general, latest="1.2.3")["error"]
        == "invalid_ts_latest"
    )


# -- threads and mutations ------------------------------------------------------------------------


def test_replies_list_parent_first_then_replies_ascending_from_any_thread_ts(
    sandbox: Sandbox,
) -> None:
    general = sandbox.channel("general")
    parent = thread_parent(sandbox, general)

    pages = walk(sandbox, "conversations.replies", channel=general, ts=parent, limit=2)
    thread = [m for p in pages for m in p["messages"]]
    from_reply = api(sandbox, "conversations.replies", channel=general, ts=thread[-1]["ts"])[
        "messages"
    ]

    assert thread[0]["ts"] == parent and thread[0]["reply_count"] == len(thread) - 1
    assert [m["ts"] for m in thread[1:]] == sorted((m["ts"] for m in thread[1:]), key=parse_ts)
    assert all(
        m["thread_ts"] == parent and m["parent_user_id"] == thread[0]["user"] for m in thread[1:]
    )
    assert from_reply == thread
    assert (
        api(sandbox, "conversations.replies", channel=general, ts="1.000001")["error"]
        == "thread_not_found"
    )


def test_reply_updates_the_parents_thread_fields(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    parent = thread_parent(sandbox, general)
    before = sandbox.workspace.message(general, parent)
    sandbox.advance(3600)

    reply = sandbox.workspace.reply(
        general, parent, "late to the thread", user="USLACKBOT", broadcast=True
    )

    after = sandbox.workspace.message(general, parent)
    assert after["reply_count"] == before["reply_count"] + 1
    assert after["latest_reply"] == reply["ts"] and parse_ts(reply["ts"]) == int(sandbox.now * 1e6)
    assert after["reply_users"][-1] == "USLACKBOT" and after["reply_users_count"] == len(
        after["reply_users"]
    )
    assert reply["subtype"] == "thread_broadcast" and reply["ts"] in history_ts(
        sandbox, general, limit=5
    )


def test_edit_sets_edited_and_keeps_ts_while_reactions_do_not(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    ts = history_ts(sandbox, general)[2]
    before = sandbox.workspace.message(general, ts)
    sandbox.advance(60)

    reacted = sandbox.workspace.react(general, ts, "tada", user="U0REACTOR")
    edited = sandbox.workspace.edit(general, ts, "new text", user="U0EDITOR")

    assert reacted.get("edited") == before.get("edited")
    assert {"name": "tada", "users": ["U0REACTOR"], "count": 1} in reacted["reactions"]
    assert edited["ts"] == ts and edited["text"] == "new text"
    assert edited["edited"] == {"user": "U0EDITOR", "ts": format_ts(int(sandbox.now * 1e6))}


def test_deleted_message_disappears_from_history(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    plain = next(
        ts
        for ts in history_ts(sandbox, general)
        if "reply_count" not in sandbox.workspace.message(general, ts)
    )

    sandbox.workspace.delete(general, plain)

    assert plain not in history_ts(sandbox, general)
    assert sandbox.state()["deleted"][general][plain] == sandbox.now


def test_deleting_a_parent_with_replies_leaves_a_tombstone(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    parent = thread_parent(sandbox, general)
    before = sandbox.workspace.message(general, parent)

    sandbox.workspace.delete(general, parent)

    [tomb] = [
        m
        for m in api(sandbox, "conversations.history", channel=general, limit=999)["messages"]
        if m["ts"] == parent
    ]
    assert (tomb["subtype"], tomb["hidden"], tomb["user"]) == ("tombstone", True, "USLACKBOT")
    assert tomb["text"] == "This message was deleted."
    assert (tomb["thread_ts"], tomb["reply_count"], tomb["latest_reply"]) == (
        parent,
        before["reply_count"],
        before["latest_reply"],
    )
    assert api(sandbox, "conversations.replies", channel=general, ts=parent)["messages"][0] == tomb


def test_deleting_a_reply_updates_the_parent(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    parent = thread_parent(sandbox, general)
    thread = api(sandbox, "conversations.replies", channel=general, ts=parent)["messages"]

    sandbox.workspace.delete(general, thread[-1]["ts"])

    after = sandbox.workspace.message(general, parent)
    assert after.get("reply_count", 0) == len(thread) - 2
    assert after.get("latest_reply") == (thread[-2]["ts"] if len(thread) > 2 else None)


def test_write_methods_act_as_the_bot(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    posted = api(sandbox, "chat.postMessage", channel=general, text="hello")
    human_ts = history_ts(sandbox, general)[1]

    updated = api(sandbox, "chat.update", channel=general, ts=posted["ts"], text="hello again")
    denied = api(sandbox, "chat.update", channel=general, ts=human_ts, text="nope")
    reacted = api(sandbox, "reactions.add", channel=general, timestamp=human_ts, name="eyes")
    deleted = api(sandbox, "chat.delete", channel=general, ts=posted["ts"])
    archived = api(sandbox, "conversations.archive", channel=general)

    assert posted["message"]["bot_id"] == sandbox.workspace.bot_id
    assert updated["message"]["edited"]["user"] == sandbox.workspace.bot_user_id
    assert (denied["error"], reacted["ok"], deleted["ok"], archived["ok"]) == (
        "cant_update_message",
        True,
        True,
        True,
    )
    assert api(sandbox, "chat.postMessage", channel=general, text="x")["error"] == "is_archived"


# -- lists --------------------------------------------------------------------------------------


def test_conversations_list_filters_types_and_archived_and_pages(sandbox: Sandbox) -> None:
    def names(**params: Any) -> list[str]:
        return [
            c["name"]
            for p in walk(sandbox, "conversations.list", limit=2, **params)
            for c in p["channels"]
        ]

    assert "engineering" not in names()
    assert set(names(types="public_channel,private_channel")) == {
        c.name for c in sandbox.workspace.channels.values()
    }
    assert "announcements-2024" not in names(exclude_archived="true")
    assert api(sandbox, "conversations.list", types="dm")["error"] == "invalid_types"


def test_users_list_pages_through_everyone(sandbox: Sandbox) -> None:
    members = [u for p in walk(sandbox, "users.list", limit=3) for u in p["members"]]

    assert [u["id"] for u in members] == sorted(sandbox.workspace.users)
    assert {"USLACKBOT", sandbox.workspace.bot_user_id} <= {u["id"] for u in members}


# -- wire format, auth, faults ----------------------------------------------------------------


def test_accepts_get_query_form_and_json_bodies(sandbox: Sandbox) -> None:
    params: dict[str, str | int] = {"channel": sandbox.channel("general"), "limit": 4}
    with sandbox.client() as http:
        bodies = [
            http.get("conversations.history", params=params).json(),
            http.post("conversations.history", data=params).json(),
            http.post("conversations.history", json=params).json(),
        ]
    assert bodies[0] == bodies[1] == bodies[2] and len(bodies[0]["messages"]) == 4


def test_tokens_unknown_methods_and_call_counts(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.base_url, transport=sandbox.transport()) as http:
        wrong = http.post("auth.test", headers={"Authorization": "Bearer xoxb-wrong"}).json()
        missing = http.post("auth.test").json()
        form_token = http.post("auth.test", data={"token": sandbox.token}).json()

    assert (wrong["error"], missing["error"], form_token["ok"]) == (
        "invalid_auth",
        "not_authed",
        True,
    )
    assert api(sandbox, "chat.scheduleMessage")["error"] == "unknown_method"
    assert sandbox.calls["auth.test"] == 3


def test_injected_5xx_and_timeouts_hit_only_matching_calls(sandbox: Sandbox) -> None:
    general, random_ = sandbox.channel("general"), sandbox.channel("random")
    sandbox.faults.fail(2, status=502, method="conversations.history", channel=random_)
    sandbox.faults.timeout(method="users.list")

    assert sandbox.call("conversations.history", channel=general).status_code == 200
    responses = [sandbox.call("conversations.history", channel=random_) for _ in range(3)]
    assert [r.status_code for r in responses] == [502, 502, 200]
    assert responses[0].headers["content-type"].startswith("text/html")
    with pytest.raises(httpx.ReadTimeout):
        sandbox.call("users.list")
    assert sandbox.call("users.list").status_code == 200
    assert sandbox.metrics()["timeouts"] == {"users.list": 1}


def test_ratelimit_storm_answers_429_whatever_the_budget(sandbox: Sandbox) -> None:
    sandbox.faults.ratelimit_storm(2, retry_after_s=7)

    responses = [sandbox.call("auth.test") for _ in range(3)]

    assert [r.status_code for r in responses] == [429, 429, 200]
    assert responses[0].headers["Retry-After"] == "7"
    assert responses[0].json() == {"ok": False, "error": "ratelimited"}


# -- rate-limit regimes on fake time ------------------------------------------------------------


def test_tier3_allows_a_minute_of_history_then_429_with_retry_after() -> None:
    sandbox = Sandbox(seed=1, regime="tier3")
    general = sandbox.channel("general")

    statuses = [
        sandbox.call("conversations.history", channel=general).status_code for _ in range(51)
    ]
    limited = sandbox.call("conversations.history", channel=general)
    sandbox.advance(int(limited.headers["Retry-After"]))

    assert statuses == [200] * 50 + [429]
    assert limited.headers["Retry-After"] == "2"
    assert sandbox.call("conversations.history", channel=general).status_code == 200


def test_non_marketplace_regime_caps_pages_at_15_and_one_call_per_minute() -> None:
    sandbox = Sandbox(seed=1, regime="non_marketplace")
    general = sandbox.channel("general")

    first = sandbox.call("conversations.history", channel=general, limit=200)
    second = sandbox.call("conversations.history", channel=general, limit=200)
    sandbox.advance(59)
    early = sandbox.call("conversations.history", channel=general)
    sandbox.advance(1)
    later = sandbox.call("conversations.history", channel=general)

    assert len(first.json()["messages"]) == 15 and first.json()["has_more"]
    assert (second.status_code, second.headers["Retry-After"]) == (429, "60")
    assert (early.status_code, later.status_code) == (429, 200)
    assert sandbox.call("conversations.list").status_code == 200  # other methods keep their tier


def test_a_linked_fake_clock_refills_the_budget_when_the_client_sleeps() -> None:
    clock = FakeClock()
    sandbox = Sandbox(seed=1, regime="non_marketplace", clock=clock.now)
    general = sandbox.channel("general")
    sandbox.call("conversations.history", channel=general)

    limited = sandbox.call("conversations.history", channel=general)
    clock.sleep(float(limited.headers["Retry-After"]))

    assert limited.status_code == 429
    assert sandbox.call("conversations.history", channel=general).status_code == 200
    assert clock.slept == [60.0]


# -- control plane ------------------------------------------------------------------------------


def test_control_plane_mutates_the_workspace_and_injects_faults(sandbox: Sandbox) -> None:
    general = sandbox.channel("general")
    with httpx.Client(base_url="http://slack.sandbox/", transport=sandbox.transport()) as http:
        clock = http.post("_sandbox/clock", json={"advance": 30}).json()
        posted = http.post(
            "_sandbox/post", json={"channel": general, "text": "from the control plane"}
        ).json()
        fault = http.post(
            "_sandbox/fault", json={"kind": "http_error", "status": 500, "method": "auth.test"}
        ).json()
        bad = http.post("_sandbox/edit", json={"channel": general}).status_code
        metrics = http.get("_sandbox/metrics").json()

    assert clock["now"] == sandbox.now and posted["message"]["text"] == "from the control plane"
    assert fault["ok"] and sandbox.call("auth.test").status_code == 500
    assert bad == 400 and metrics["ok"] == {}
    assert history_ts(sandbox, general, limit=1)[0] == posted["message"]["ts"]
