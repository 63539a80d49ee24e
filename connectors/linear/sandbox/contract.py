"""The Linear sandbox as the connector contract suite sees it (`pipeline.testing.stream_contract`):
a fresh seeded workspace per test, one title edit, one purge, and failure storms."""

from __future__ import annotations

from typing import Any

from .server import Sandbox


class ContractSandbox:
    """`ContractSandbox` for `linear-issues` over an in-process `Sandbox`."""

    def __init__(self, seed: int = 1) -> None:
        self.sandbox = Sandbox(seed)
        self.token = self.sandbox.token

    def settings(self) -> dict[str, Any]:
        box = self.sandbox
        return {
            "transport": box.transport(), "api_url": box.base_url, "token": box.token,
            "http_clock": box.clock,
        }  # fmt: skip

    def edit(self, stream: str) -> tuple[str, set[str]]:
        issue = self._live()
        self.sandbox.update_issue(issue["id"], title=f"{issue['title']} (edited)")
        return issue["id"], {"title"}

    def delete(self, stream: str) -> str:
        """Purged for good (no trash): only a complete walk can notice it is gone."""
        issue = self._live()
        self.sandbox.purge(issue["id"])
        return str(issue["id"])

    def fail(self, after_calls: int, status: int = 500) -> None:
        self.sandbox.faults.fail(times=None, status=status, after=after_calls)

    def heal(self) -> None:
        self.sandbox.faults.clear()

    def _live(self) -> dict[str, Any]:
        return next(i for i in self.sandbox.state()["issues"] if not i["archivedAt"])


def contract_sandbox() -> ContractSandbox:
    return ContractSandbox()
