"""`pipeline runs` and `pipeline runs show` as a user runs them (subprocess, exact lines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.db import create_engine
from pipeline.http.clock import FakeClock
from pipeline.testing import Db, ScriptedSource, item
from tests.conftest import sqlite_url
from tests.e2e.shell import one_line, pipeline


@pytest.fixture
def ledger(tmp_path: Path, sqlite_template: Path) -> tuple[str, str, str]:
    """Two hours ago a run created 1 and 2; half an hour ago one renamed 2 while 3 failed."""
    url = sqlite_url(tmp_path, sqlite_template)
    engine = create_engine(url)
    db = Db(engine, FakeClock(datetime.now(UTC) - timedelta(hours=2)))
    first = db.run(ScriptedSource([[item("1"), item("2")]]))
    db.clock.advance(5400)
    second = db.run(ScriptedSource([[item("2", title="renamed"), item("3", title=None)]]))
    engine.dispose()
    return url, first.id, second.id


def test_runs_since_an_hour_lists_only_the_recent_run(
    ledger: tuple[str, str, str], tmp_path: Path
) -> None:
    url, _, second = ledger

    done = pipeline("runs", "--since", "1h", "--tenant", "default", "--db", url, cwd=tmp_path)

    header, row = done.stdout.splitlines()
    assert done.returncode == 0 and header.split()[:4] == ["started", "stream", "tenant", "status"]
    assert row.split()[2:9] == ["testing-items", "default", "partial", "0", "1", "0", "0"]
    assert row.endswith(second)


def test_runs_json_is_one_object_per_run_newest_first(
    ledger: tuple[str, str, str], tmp_path: Path
) -> None:
    url, first, second = ledger

    done = pipeline("runs", "--json", "--db", url, cwd=tmp_path)

    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [(second, "partial"), (first, "success")]


def test_runs_show_lists_failed_items_first_with_their_errors(
    ledger: tuple[str, str, str], tmp_path: Path
) -> None:
    url, _, second = ledger

    done = pipeline("runs", "show", second[:8], "--db", url, cwd=tmp_path)

    lines = done.stdout.splitlines()
    assert done.returncode == 0
    assert lines[:3] == [
        f"run        {second}",
        "stream     testing-items (tenant default)",
        "status     partial",
    ]
    assert lines[3].startswith("error      1 of 2 records failed; first: ValidationError")
    items = lines[lines.index("items (1 failed first):") + 1 :]
    assert items[0] == "  failed  created  3"
    assert items[1].startswith("      error: ValidationError: 1 validation error for Item | title")
    assert items[2:] == ["  success updated  2", '      title: "item 2" → "renamed"']


def test_runs_show_of_an_unknown_run_is_one_line(
    ledger: tuple[str, str, str], tmp_path: Path
) -> None:
    done = pipeline("runs", "show", "nope", "--db", ledger[0], cwd=tmp_path)

    assert (done.returncode, one_line(done)) == (2, "error: no run 'nope' (see `pipeline runs`)")
