"""Ctrl-C on `pipeline run` (a real SIGINT to a real process): the run ends `stopped` after its
current page, one line says where, exit 130, and the next run resumes there. Two real process
starts (~1 s each on an idle machine) and page delays make it one of the slower tests."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from pipeline.db import create_engine
from pipeline.tables import runs
from tests.conftest import sqlite_url
from tests.e2e.shell import shell_env

WORKER = Path(__file__).with_name("interrupt_worker.py")
STOPPED = re.compile(r"^stopped after page (\d+); the next run resumes there$")


def run_slow(db_url: str, delay_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(delay_s), "run", "testing-slow", "--db", db_url],
        env=shell_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_stops_after_the_current_page_and_the_next_run_resumes_there(
    tmp_path: Path, sqlite_template: Path
) -> None:
    db_url = sqlite_url(tmp_path, sqlite_template)  # the status on PostgreSQL: test_statuses.py
    proc = run_slow(db_url, 0.3)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the progress line of page 1: the run is walking
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    resumed = run_slow(db_url, 0)
    resumed.communicate(timeout=30)

    lines = err.splitlines()
    assert first.startswith("testing-slow: page 1 ") and out.startswith("testing-slow: stopped · ")
    assert (proc.returncode, resumed.returncode) == (130, 0), err
    assert "stopping after the current page (Ctrl-C again to stop now)" in lines
    match = STOPPED.match(lines[-1])
    assert match, err
    stopped, after = ledger(db_url)
    assert (stopped["status"], stopped["pages"], stopped["error"]) == (
        "stopped",
        int(match[1]),
        lines[-1],
    )
    assert (after["status"], after["pages"]) == ("success", 6 - stopped["pages"])
    assert stopped["created"] + after["created"] == 18


def ledger(db_url: str) -> list[dict[str, object]]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(runs).order_by(runs.c.started_at)).mappings().all()
    engine.dispose()
    return [dict(r) for r in rows]
