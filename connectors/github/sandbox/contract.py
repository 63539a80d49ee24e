"""The GitHub sandbox as a `ContractSandbox` for the connector contract suite (`pipeline.testing`).

One repo with 150 issues and pull requests (two pages of 100), so a failure storm can hit the
middle of a walk; edits and deletions hit issue #1 and the oldest comment.
"""

from __future__ import annotations

from typing import Any

from .server import Sandbox

REPO = "octo-org/widgets"
CONFIG = {"repos": [REPO]}


class ContractGitHub:
    """A fresh seeded sandbox per test, on its own FakeClock (shared with the client)."""

    def __init__(self, seed: int = 1) -> None:
        self.sandbox = Sandbox(seed, repos=(REPO,), issues_per_repo=150)
        self.token = self.sandbox.token

    def settings(self) -> dict[str, Any]:
        sandbox = self.sandbox
        return {
            "transport": sandbox.transport(),
            "api_url": sandbox.base_url,
            "token": sandbox.token,
            "http_clock": sandbox.http_clock,
        }

    def edit(self, stream: str) -> tuple[str, set[str]]:
        self.sandbox.advance(120)  # past the last run's high water
        if stream == "github-comments":
            comment = self.sandbox.comments(REPO)[0]
            self.sandbox.edit_comment(REPO, comment.id, "edited by the contract suite")
            return str(comment.id), {"body"}
        issue = self.sandbox.edit_issue(REPO, 1, title="edited by the contract suite")
        return str(issue.id), {"title"}

    def delete(self, stream: str) -> str:
        self.sandbox.advance(120)
        if stream == "github-comments":
            return str(self.sandbox.delete_comment(REPO, self.sandbox.comments(REPO)[0].id).id)
        return str(self.sandbox.delete_issue(REPO, 1).id)

    def fail(self, after_calls: int, status: int = 500) -> None:
        self.sandbox.faults.fail(status, times=None, skip=after_calls)

    def heal(self) -> None:
        self.sandbox.faults.clear()
