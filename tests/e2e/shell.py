"""Run `python -m pipeline.cli` as a user would: a subprocess in a clean shell, this tree on the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLEARED = ("PIPELINE_CONFIG", "PIPELINE_DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_API_URL")


def shell_env(**extra: str) -> dict[str, str]:
    """The environment without the pipeline's variables, with this tree first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def pipeline(
    *argv: str, cwd: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """`pipeline ARGV…` in `cwd`; returns the finished process (exit code, stdout, stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *argv],
        cwd=cwd,
        env=shell_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command printed on stderr (asserting there was exactly one)."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]
