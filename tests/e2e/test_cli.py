"""The `pipeline` command as a user runs it: exit codes, the lines it prints, one-line errors.

One test goes through a real `python -m pipeline.cli` process; the rest call `pipeline.cli.main`
in-process and read what it printed with capsys.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.slack.sandbox import Sandbox
from pipeline.cli import main
from pipeline.db import create_engine
from tests.conftest import PG_URL

SUMMARY = re.compile(
    r"^slack-messages: (\w+) · created (\d+) · edited (\d+) · deleted (\d+) · .* · run (\S+)$"
)


@pytest.fixture(autouse=True)
def user_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A clean shell in an empty directory: no pipeline.toml, no token, no database variable."""
    monkeypatch.chdir(tmp_path)
    for name in ("PIPELINE_CONFIG", "PIPELINE_DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/pipeline.db"


def summary(out: str) -> re.Match[str]:
    [line] = out.splitlines()
    match = SUMMARY.match(line)
    assert match, line
    return match


def test_sandbox_run_exits_0_and_prints_the_summary_with_created_counts(
    tmp_path: Path, db: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SLACK_BOT_TOKEN", "PIPELINE_CONFIG")}

    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "slack-messages", "--sandbox", "--db", db],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    status, created, edited, deleted, _ = summary(done.stdout).groups()
    assert (status, edited, deleted) == ("success", "0", "0") and int(created) > 0
    assert "slack-messages: page 1 · " in done.stderr and "Traceback" not in done.stderr


def test_second_sandbox_run_prints_no_changes(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["run", "slack-messages", "--sandbox", "--db", db])
    capsys.readouterr()

    code = main(["run", "slack-messages", "--sandbox", "--db", db])

    assert code == 0
    assert summary(capsys.readouterr().out).groups()[:4] == ("no_changes", "0", "0", "0")


def test_missing_token_exits_2_with_one_line_naming_the_variable_and_sandbox(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "slack-messages", "--db", db])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("error: ") and "SLACK_BOT_TOKEN" in line and "--sandbox" in line


def test_unknown_stream_exits_2_and_lists_the_known_streams(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "slack-message", "--db", db])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    [line] = err.splitlines()  # in-process, the engine tests' own stream is known too
    assert line.startswith("error: unknown stream 'slack-message'; known streams: ")
    assert "slack-channels, slack-messages, slack-users" in line


def test_rejected_token_exits_1_with_one_line_that_never_shows_the_token(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "xoxb-1234-not-the-sandbox-token"
    with Sandbox(0, messages_per_channel=5).serving() as url:
        monkeypatch.setenv("SLACK_BOT_TOKEN", token)
        monkeypatch.setenv("SLACK_API_URL", f"{url}/api/")
        code = main(["run", "slack-messages", "--db", db])

    out, err = capsys.readouterr()
    assert code == 1 and summary(out).group(1) == "failed"
    assert (
        err == "error: conversations.list: invalid_auth: check SLACK_BOT_TOKEN (or use --sandbox)\n"
    )
    assert token not in out + err


def test_runs_lists_each_run_with_its_status_and_counts(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", "slack-messages", "--sandbox", "--db", db])
    status, created, *_, run_id = summary(capsys.readouterr().out).groups()

    code = main(["--db", db, "runs"])

    header, row = capsys.readouterr().out.splitlines()
    assert code == 0 and header.split()[:5] == ["started", "stream", "tenant", "status", "+"]
    assert row.split()[2:6] == ["slack-messages", "default", status, created] and row.endswith(
        run_id
    )


def test_state_show_prints_the_checkpoint_of_every_channel(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", "slack-messages", "--sandbox", "--db", db])
    capsys.readouterr()

    code = main(["--db", db, "state", "show", "slack-messages"])

    checkpoint = json.loads(capsys.readouterr().out)
    assert code == 0 and len(checkpoint["channels"]) == 3
    assert all(c["high_water"] and c["window"] is None for c in checkpoint["channels"].values())


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL schema, as a URL; dropped afterwards."""
    if not PG_URL:
        pytest.skip("`pipeline migrate` on PostgreSQL needs PIPELINE_TEST_POSTGRES_URL")
    schema = f"pipeline_cli_{os.getpid()}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def test_migrate_brings_an_empty_postgres_database_to_the_latest_schema(
    empty_pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", empty_pg_url, "migrate"])

    out = capsys.readouterr().out
    assert (
        code == 0
        and out.startswith("migrated postgresql+psycopg://")
        and out.endswith("to the latest schema\n")
    )
    engine = create_engine(empty_pg_url)
    assert {"event_outbox", "integration_runs", "slack_messages"} <= set(
        sa.inspect(engine).get_table_names()
    )
    engine.dispose()


def test_migrate_takes_db_after_the_command(db: str) -> None:
    assert main(["migrate", "--db", db]) == 0
