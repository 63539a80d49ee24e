"""The Slack sandbox as a `ContractSandbox` for the connector contract suite (`pipeline.testing`)."""

from __future__ import annotations

from typing import Any

from .server import Sandbox
from .workspace import format_ts


class ContractSlack:
    """One seeded workspace; edits and deletions hit the newest plain message of #general."""

    def __init__(self, seed: int = 0) -> None:
        from . import in_process_settings  # the same settings `--sandbox` uses

        self._settings = in_process_settings(seed)
        self.sandbox: Sandbox = self._settings.pop("sandbox")
        self.token = self.sandbox.token

    def settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def _newest_plain(self) -> tuple[str, str]:
        workspace = self.sandbox.workspace
        channel = workspace.channel_named("general")
        for us in reversed(workspace.all_ts(channel)):
            if not channel.threads.get(us) and us not in channel.parent_of:
                return channel.id, format_ts(us)
        raise LookupError("#general has no message without a thread")

    def edit(self, stream: str) -> tuple[str, set[str]]:
        channel, ts = self._newest_plain()
        self.sandbox.workspace.edit(channel, ts, "edited by the contract suite")
        return f"{channel}:{ts}", {"text", "blocks", "edited_ts", "edited_by"}

    def delete(self, stream: str) -> str:
        channel, ts = self._newest_plain()
        self.sandbox.workspace.delete(channel, ts)
        return f"{channel}:{ts}"

    def fail(self, after_calls: int, status: int = 500) -> None:
        if status == 401:
            self.sandbox.faults.error("invalid_auth", times=None)
            return
        general = self.sandbox.workspace.channel_named("general").id
        self.sandbox.faults.fail(
            times=None, status=status, method="conversations.history", channel=general
        )

    def heal(self) -> None:
        self.sandbox.faults.clear()
