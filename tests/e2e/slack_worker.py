"""Crash-injection worker for slack-messages: one run that SIGKILLs itself at one step boundary.

    python tests/e2e/slack_worker.py STEP PAGE

Reads SLACK_BOT_TOKEN, SLACK_API_URL and PIPELINE_DATABASE_URL as `pipeline run slack-messages`
does, and kills itself with SIGKILL (no cleanup, no `finally`, as a power cut) when the transaction
of page PAGE reaches STEP, one of `pipeline.orchestrator.STEPS`. Exit 3 if it was never reached.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.db import create_engine
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription


def main(argv: list[str]) -> int:
    kill_step, kill_page = argv[1], int(argv[2])

    def kill_at(step: str, page: int) -> None:
        if (step, page) == (kill_step, kill_page):
            os.kill(os.getpid(), signal.SIGKILL)

    engine = create_engine()
    run = Orchestrator(engine).run(
        get_stream("slack-messages"),
        Subscription("slack", "messages"),
        options=RunOptions(on_step=kill_at),
    )
    engine.dispose()
    print(f"not killed: run ended {run.status} after {run.counts['pages']} pages", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))
