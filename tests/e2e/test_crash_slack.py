"""A killed `slack-messages` run resumes to the outbox of a run never interrupted (DESIGN §4).

Real processes against a real HTTP sandbox: `slack_worker.py` SIGKILLs itself right after page 2
committed, `pipeline run slack-messages` takes the dead holder's lease over and resumes from the
checkpoint; the outbox must equal, as a multiset, that of one uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from connectors.slack.sandbox import TOKEN, Sandbox
from pipeline.db import create_engine
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.tables import event_outbox, runs
from tests.conftest import sqlite_url

WORKER = Path(__file__).with_name("slack_worker.py")


def outbox(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [(str(r.event_id), r.type) for r in conn.execute(sa.select(event_outbox))]
    finally:
        engine.dispose()


def run_rows(url: str) -> list[sa.Row[tuple[str, object]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(runs.c.status, runs.c.checkpoint_before).order_by(runs.c.started_at)
            return list(conn.execute(query))
    finally:
        engine.dispose()


def uninterrupted(url: str, api_url: str) -> None:
    engine = create_engine(url)
    try:
        settings = {"api_url": api_url, "token": TOKEN}
        Orchestrator(engine).run(
            get_stream("slack-messages"),
            Subscription("slack", "messages"),
            options=RunOptions(settings=settings),
        )
    finally:
        engine.dispose()


def test_killed_run_resumes_with_the_outbox_of_an_uninterrupted_run(
    db_url: str, tmp_path: Path, sqlite_template: Path
) -> None:
    (tmp_path / "reference").mkdir()
    reference = sqlite_url(tmp_path / "reference", sqlite_template)
    with Sandbox(0, messages_per_channel=20).serving() as url:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": f"{url}/api/",
            "PIPELINE_DATABASE_URL": db_url,
        }
        env.pop("PIPELINE_CONFIG", None)

        def process(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, *argv],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        killed = process(str(WORKER), "committed", "2")
        resumed = process("-m", "pipeline.cli", "run", "slack-messages")
        uninterrupted(reference, f"{url}/api/")

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert resumed.returncode == 0 and resumed.stdout.startswith("slack-messages: success"), (
        resumed.stderr
    )
    [(first, _), (second, checkpoint)] = run_rows(db_url)
    assert (first, second) == ("failed", "success") and checkpoint  # taken over, then resumed
    events, expected = outbox(db_url), outbox(reference)
    assert Counter(events) == Counter(expected) and len(set(events)) == len(events)
