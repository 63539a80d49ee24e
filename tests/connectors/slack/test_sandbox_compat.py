"""The sandbox speaks real Slack: the official slack_sdk WebClient works against it over HTTP.

slack_sdk POSTs form bodies with a Bearer token to `<base_url><method>` (vendors.md §2, §6.1.10).
The server runs on 127.0.0.1 in a background thread; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.slack.sandbox import Sandbox, start_in_thread


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=2, regime="unlimited")


@pytest.fixture
def url(sandbox: Sandbox) -> Iterator[str]:
    with sandbox.serving() as root:
        yield root


@pytest.fixture
def slack(sandbox: Sandbox, url: str) -> WebClient:
    return WebClient(token=sandbox.token, base_url=f"{url}/api/")


def test_slack_sdk_pages_history_with_cursors(sandbox: Sandbox, slack: WebClient) -> None:
    general = sandbox.channel("general")
    expected = [
        m["ts"] for m in slack.conversations_history(channel=general, limit=999)["messages"]
    ]

    seen, cursor, pages = [], None, 0
    while True:
        page = slack.conversations_history(channel=general, limit=7, cursor=cursor)
        seen += [m["ts"] for m in page["messages"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break

    assert seen == expected and len(expected) > 7
    assert pages == -(-len(expected) // 7)
    assert sandbox.calls["conversations.history"] == pages + 1


def test_slack_sdk_reads_lists_threads_and_writes(sandbox: Sandbox, slack: WebClient) -> None:
    general = sandbox.channel("general")
    parent = next(iter(sandbox.workspace.channel(general).threads))

    auth = slack.auth_test()
    channels = slack.conversations_list(types="public_channel,private_channel")["channels"]
    thread = slack.conversations_replies(
        channel=general, ts=f"{parent // 10**6}.{parent % 10**6:06d}"
    )["messages"]
    posted = slack.chat_postMessage(channel=general, text="hello from slack_sdk")

    assert auth["user_id"] == sandbox.workspace.bot_user_id
    assert len(channels) == len(sandbox.workspace.channels)
    assert thread[0]["reply_count"] == len(thread) - 1
    assert sandbox.workspace.message(general, posted["ts"])["text"] == "hello from slack_sdk"


def test_slack_sdk_sees_429_with_retry_after(sandbox: Sandbox, slack: WebClient) -> None:
    sandbox.regime = "non_marketplace"
    general = sandbox.channel("general")
    slack.conversations_history(channel=general)

    with pytest.raises(SlackApiError) as caught:
        slack.conversations_history(channel=general)

    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "60"
    assert caught.value.response["error"] == "ratelimited"


def test_slack_sdk_errors_for_wrong_token_and_missing_membership(
    sandbox: Sandbox, url: str
) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=f"{url}/api/")
    right = WebClient(token=sandbox.token, base_url=f"{url}/api/")

    with pytest.raises(SlackApiError, match="invalid_auth"):
        wrong.auth_test()
    with pytest.raises(SlackApiError, match="not_in_channel"):
        right.conversations_history(channel=sandbox.channel("watercooler"))


def test_real_http_timeout_fault_answers_504_without_waiting(sandbox: Sandbox, url: str) -> None:
    sandbox.faults.timeout(method="auth.test")

    with httpx.Client(base_url=f"{url}/api/") as http:
        timed_out = http.post("auth.test", headers={"Authorization": f"Bearer {sandbox.token}"})
        control = http.get(f"{url}/_sandbox/requests").json()

    assert timed_out.status_code == 504
    assert control["requests"][-1]["error"] == "timeout"


def test_start_in_thread_serves_a_bare_app_and_stops_cleanly(sandbox: Sandbox) -> None:
    root, stop = start_in_thread(sandbox.app)
    try:
        body = httpx.get(f"{root}/api/auth.test", params={"token": sandbox.token}).json()
    finally:
        stop()

    assert body["ok"] and body["team_id"] == sandbox.workspace.team_id
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{root}/api/auth.test")
