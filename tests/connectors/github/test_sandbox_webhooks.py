"""The sandbox sends GitHub-shaped, signed webhooks for every change (DESIGN §8)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from connectors.github.sandbox import Sandbox

REPO = "octo-org/widgets"


def receiver() -> tuple[httpx.Client, list[httpx.Request]]:
    """An httpx client whose server records every request and answers 200."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200)

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


def bodies(seen: list[httpx.Request]) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in seen]


def test_every_change_is_a_signed_delivery() -> None:
    sandbox = Sandbox(seed=1)
    client, seen = receiver()
    sandbox.send_webhooks(
        "http://hooks.test/webhooks/github", secret="s3cret", client=client, inline=True
    )

    sandbox.add_label(REPO, 1, "bug-ish")
    comment = sandbox.add_comment(REPO, 1, "hi")
    sandbox.edit_comment(REPO, comment.id, "hello")
    sandbox.delete_issue(REPO, 1)

    events = [
        (r.headers["x-github-event"], b["action"]) for r, b in zip(seen, bodies(seen), strict=True)
    ]
    assert events == [
        ("issues", "labeled"),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issues", "deleted"),
    ]
    for request in seen:
        expected = "sha256=" + hmac.new(b"s3cret", request.content, hashlib.sha256).hexdigest()
        assert request.headers["x-hub-signature-256"] == expected
    assert len({r.headers["x-github-delivery"] for r in seen}) == 4
    assert bodies(seen)[2]["changes"] == {"body": {"from": "hi"}}
    assert bodies(seen)[0]["label"]["name"] == "bug-ish" and bodies(seen)[3]["issue"]["number"] == 1


def test_transfer_delivery_names_the_new_issue() -> None:
    sandbox = Sandbox(seed=1)
    client, seen = receiver()
    sandbox.send_webhooks("http://hooks.test/", client=client, inline=True)

    moved = sandbox.transfer_issue(REPO, 2, "octo-org/gadgets")

    body = bodies(seen)[0]
    assert body["action"] == "transferred" and body["issue"]["number"] == 2
    assert body["changes"]["new_issue"]["number"] == moved.number
    assert body["changes"]["new_repository"]["full_name"] == "octo-org/gadgets"


def test_seeding_sends_nothing() -> None:
    sandbox = Sandbox(seed=1)
    client, seen = receiver()
    sandbox.send_webhooks("http://hooks.test/", client=client, inline=True)

    sandbox.bulk_seed(REPO, 50)

    assert seen == []
