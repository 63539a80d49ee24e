"""What `pipeline run` shows: stable plain lines off a terminal whose figures equal the run row, and a
live line (rich) on a terminal that is erased when the run ends."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.shell import pipeline, shell_env

PAGE = re.compile(
    r"^slack-messages: page (\d+) · (\d+) records · .* · (\d+) API calls · (\d+) rate-limited$"
)


def test_plain_progress_lines_end_with_the_figures_of_the_run_row(tmp_path: Path) -> None:
    done = pipeline("run", "slack-messages", "--sandbox", "--json", cwd=tmp_path)

    row = json.loads(done.stdout)
    pages = [PAGE.match(line) for line in done.stderr.splitlines()]
    assert done.returncode == 0 and pages and all(pages), done.stderr
    last = pages[-1]
    assert last is not None
    assert tuple(map(int, last.groups())) == (
        row["pages"],
        row["records_found"],
        row["api_calls"],
        row["rate_limited"],
    )


def test_on_a_terminal_the_live_line_is_drawn_in_place_and_erased(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "slack-messages", "--sandbox"],
        cwd=tmp_path,
        env=shell_env(),
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    out, _ = proc.communicate(timeout=60)
    shown = read_all(leader)

    assert proc.returncode == 0 and out.startswith("slack-messages: success · created ")
    assert "slack-messages: page " in shown and "\x1b[2K" in shown  # drawn, then cleared
    assert shown.rstrip().endswith("\x1b[2K")  # nothing left behind under the summary


def read_all(fd: int) -> str:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        data += chunk
    os.close(fd)
    return data.decode(errors="replace")
