"""Slack registers through the `pipeline.connectors` entry point like any third-party connector."""

from __future__ import annotations

import pytest

from pipeline.cli import main


def test_connectors_lists_the_slack_streams(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["connectors"])

    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert {"slack-channels", "slack-messages", "slack-users"} <= set(names)
