"""`pipeline subscriptions …` and `pipeline run --enqueue` (DESIGN §9).

One test goes through a real subprocess; the others call `pipeline.cli.main` in-process (the same
parsing, dispatch and error mapping), since each subprocess costs seconds of imports on a busy
2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pipeline(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """`pipeline(url, *command)` in-process: (exit code, stdout, stderr)."""
    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)

    def call(url: str, *command: str) -> tuple[int, str, str]:
        code = main(["--db", url, *command])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def subprocess_pipeline(url: str, *command: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "--db", url, *command],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "PIPELINE_CONFIG"},
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout, proc.stderr


def listed(pipeline: Any, url: str) -> dict[str, dict[str, Any]]:
    code, out, err = pipeline(url, "subscriptions", "list", "--json")
    assert code == 0, err
    return {e["subscription"]: e for e in json.loads(out)}


def test_add_pause_resume_remove_and_list(pipeline: Any, db_url: str) -> None:
    added = pipeline(
        db_url,
        "subscriptions",
        "add",
        "slack-users",
        "--tenant",
        "acme",
        "--interval",
        "5m",
        "--set",
        "token_env=ACME_SLACK_TOKEN",
        "--set",
        "lookback_days=3",
    )
    again = pipeline(db_url, "subscriptions", "add", "slack-users", "--tenant", "acme")
    cron = pipeline(
        db_url,
        "subscriptions",
        "add",
        "slack-channels",
        "--tenant",
        "beta",
        "--schedule",
        "0 * * * *",
    )
    paused = pipeline(
        db_url,
        "subscriptions",
        "pause",
        "slack-users",
        "--tenant",
        "acme",
        "--reason",
        "token rotation",
    )
    while_paused = listed(pipeline, db_url)
    resumed = pipeline(db_url, "subscriptions", "resume", "slack-users", "--tenant", "acme")
    removed = pipeline(db_url, "subscriptions", "remove", "slack-channels", "--tenant", "beta")

    assert added == (0, "slack-users/acme/default: added, every 5m, due now\n", "")
    assert again[0] == 2 and again[2].startswith("error: slack-users/acme/default exists already")
    assert cron[:2] == (0, "slack-channels/beta/default: added, cron 0 * * * *, due now\n")
    assert paused == (0, "slack-users/acme/default: paused\n", "")
    users = while_paused["slack-users/acme/default"]
    assert (users["status"], users["error"], users["trigger"]) == (
        "paused",
        "token rotation",
        "every 5m",
    )
    assert while_paused["slack-channels/beta/default"]["status"] == "scheduled"
    assert resumed == (0, "slack-users/acme/default: resumed\n", "")
    assert removed == (0, "slack-channels/beta/default: removed\n", "")
    assert {k: v["status"] for k, v in listed(pipeline, db_url).items()} == {
        "slack-users/acme/default": "scheduled"
    }


def test_bad_input_is_one_line_with_exit_2_and_never_echoes_a_secret(
    pipeline: Any, db_url: str
) -> None:
    secret = pipeline(
        db_url, "subscriptions", "add", "slack-users", "--set", "token_env=xoxb-123-secret"
    )
    unknown_key = pipeline(db_url, "subscriptions", "add", "slack-users", "--set", "colour=blue")
    bad_cron = pipeline(db_url, "subscriptions", "add", "slack-users", "--schedule", "every day")
    missing = pipeline(db_url, "subscriptions", "pause", "slack-users", "--tenant", "nobody")

    for code, out, err in (secret, unknown_key, bad_cron, missing):
        assert (code, out, len(err.splitlines())) == (2, "", 1), err
    assert "xoxb-123-secret" not in secret[2]
    assert unknown_key[2] == "error: --set: colour: unknown key\n"
    assert missing[2].startswith("error: no subscription slack-users/nobody/default")
    assert listed(pipeline, db_url) == {}


def test_import_is_idempotent_and_enqueue_makes_a_subscription_due(
    pipeline: Any, db_url: str, tmp_path: Path
) -> None:
    toml = tmp_path / "pipeline.toml"
    toml.write_text(
        '[[subscriptions]]\nstream = "slack-users"\ntenant = "acme"\ninterval = "1h"\n'
        'token_env = "ACME_SLACK_TOKEN"\n'
    )

    first = pipeline(db_url, "subscriptions", "import", str(toml))
    second = pipeline(db_url, "subscriptions", "import", str(toml))
    enqueued = pipeline(db_url, "run", "slack-users", "--tenant", "acme", "--enqueue")

    assert first == (0, f"{toml}: 1 added, 0 changed, 0 unchanged\n", "")
    assert second == (0, f"{toml}: 0 added, 0 changed, 1 unchanged\n", "")
    assert enqueued == (0, "slack-users/acme/default: due now\n", "")
    [entry] = listed(pipeline, db_url).values()
    assert (entry["trigger"], entry["status"], entry["attempt"]) == ("every 1h", "scheduled", 0)


def test_a_real_process_adds_lists_and_pauses(db_url: str) -> None:
    added = subprocess_pipeline(db_url, "subscriptions", "add", "slack-users", "--tenant", "acme")
    paused = subprocess_pipeline(
        db_url, "subscriptions", "pause", "slack-users", "--tenant", "acme"
    )
    code, out, err = subprocess_pipeline(db_url, "subscriptions", "list")

    assert added == (0, "slack-users/acme/default: added, every 5m, due now\n", "")
    assert paused == (0, "slack-users/acme/default: paused\n", "")
    header, line = out.splitlines()
    assert (code, err) == (0, "")
    assert header.split()[:4] == ["subscription", "status", "trigger", "last"]
    assert line.split()[:5] == ["slack-users/acme/default", "paused", "every", "5m", "never"]
