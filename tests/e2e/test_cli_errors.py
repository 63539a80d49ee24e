"""Every mistake a user or their environment can make is one line naming the fix (DESIGN §5).

Each case runs `python -m pipeline.cli` in a subprocess in an empty directory and asserts the exact
line and exit code: 2 for bad input, 1 for an environment fault; no traceback without `-v`.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import __version__ as pipeline_version
from pipeline.cli import build_parser
from tests.e2e.shell import one_line, pipeline, shell_env

NO_DB = "error: no database at ./pipeline.db — run a sync first or set PIPELINE_DATABASE_URL"


@pytest.mark.parametrize(
    ("argv", "line", "code"),
    [
        pytest.param(
            ["--db", "nonsense", "migrate"],
            "error: bad database URL 'nonsense': use sqlite:///path/to/file.db or "
            "postgresql+psycopg://user@host/db (--db or PIPELINE_DATABASE_URL)",
            2,
            id="bad-url",
        ),
        pytest.param(["runs"], NO_DB, 2, id="read-command-creates-no-database"),
        pytest.param(["events", "tail"], NO_DB, 2, id="events-tail-creates-no-database"),
        pytest.param(
            ["runs", "--limit", "-1"],
            "error: argument --limit/-n: must be at least 1, got '-1' (see `pipeline runs --help`)",
            2,
            id="bad-number",
        ),
        pytest.param(
            ["migrate", "--db", "sqlite:///nodir/x.db"],
            "error: cannot open ./nodir/x.db: the directory ./nodir does not exist",
            2,
            id="missing-directory",
        ),
        pytest.param(
            ["runs", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/x"],
            "error: cannot reach the database at 127.0.0.1:1 (connection refused): is it running? "
            "(postgresql+psycopg://postgres@127.0.0.1:1/x)",
            1,
            id="unreachable-server",
        ),
    ],
)
def test_a_user_error_is_one_line_and_an_exit_code(
    tmp_path: Path, argv: list[str], line: str, code: int
) -> None:
    done = pipeline(*argv, cwd=tmp_path)

    assert (done.returncode, one_line(done)) == (code, line)
    assert not (tmp_path / "pipeline.db").exists()


def test_a_file_that_is_not_a_database_exits_2(tmp_path: Path) -> None:
    (tmp_path / "pipeline.db").write_text("my notes\n" * 200)

    done = pipeline("runs", cwd=tmp_path)

    assert done.returncode == 2
    assert one_line(done) == (
        "error: ./pipeline.db is not a pipeline database: "
        "point --db or PIPELINE_DATABASE_URL at another file"
    )


def test_a_read_only_database_exits_1(tmp_path: Path) -> None:
    assert pipeline("migrate", cwd=tmp_path).returncode == 0

    done = pipeline(
        "state",
        "reset",
        "slack-messages",
        "--db",
        "sqlite:///file:pipeline.db?mode=ro&uri=true",
        cwd=tmp_path,
    )

    assert done.returncode == 1
    assert one_line(done) == (
        "error: ./pipeline.db is read-only: make the file and its directory writable "
        "(SQLite writes -wal and -shm files beside it)"
    )


def test_a_busy_port_exits_1_before_printing_the_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])

        done = pipeline("sandbox", "slack", "--port", port, cwd=tmp_path)

    assert (done.returncode, done.stdout) == (1, "")
    assert one_line(done) == (
        f"error: port {port} is already in use: stop what listens there or pick another with --port"
    )


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    assert pipeline("migrate", cwd=tmp_path).returncode == 0
    reader = subprocess.Popen(  # `pipeline runs | head -0`: the reader is gone before we write
        [sys.executable, "-m", "pipeline.cli", "runs"],
        cwd=tmp_path,
        env=shell_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None
    reader.stdout.close()

    _, err = reader.communicate(timeout=60)

    assert (reader.returncode, err) == (0, "")


def test_a_traceback_only_with_v(tmp_path: Path) -> None:
    done = pipeline("-v", "--db", "nonsense", "migrate", cwd=tmp_path)

    assert done.returncode == 2
    assert "Traceback" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: bad database URL 'nonsense'")


def test_version(tmp_path: Path) -> None:
    done = pipeline("--version", cwd=tmp_path)

    assert (done.returncode, done.stdout) == (0, f"pipeline {pipeline_version}\n")


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _parsers(child)
    return found


def test_every_option_has_help_and_db_shows_as_url() -> None:
    missing = [
        f"{p.prog} {a.dest}"
        for p in _parsers(build_parser())
        for a in p._actions
        if not a.help and a.dest not in ("command", "events_command")
    ]

    assert missing == []
    run_help = pipeline_help("run")
    assert "--db URL" in run_help and "COMMAND_DB" not in run_help


def pipeline_help(command: str) -> str:
    [run] = [p for p in _parsers(build_parser()) if p.prog == f"pipeline {command}"]
    return run.format_help()


def test_a_string_where_a_number_belongs_in_the_config_exits_2_naming_file_and_key(
    tmp_path: Path,
) -> None:
    (tmp_path / "pipeline.toml").write_text('workers = "8"\n')

    done = pipeline("run", "slack-messages", "--sandbox", cwd=tmp_path)

    assert done.returncode == 2
    assert one_line(done) == "error: pipeline.toml: workers: Input should be a valid integer"
    assert not (tmp_path / "pipeline.db").exists()
