"""Crash storm: slack-messages runs SIGKILLed at random page-transaction steps, on both databases.

    python -m bench.crash_storm [--trials N] [--kills K] [--postgres URL]

Each trial: a fresh database and a seeded sandbox over real HTTP. A first sync is attempted by
forked processes that SIGKILL themselves at a random (step, page) of `pipeline.orchestrator.STEPS`
until one finishes; then messages are deleted and edited in the workspace and the second sync is
stormed the same way, followed by exactly one clean run. Compared with an uninterrupted reference
database: lost events (in the reference, not here), duplicated events (a (type, entity) pair more
often than in the reference) and deferred deletions (deleted in the workspace, still live after
the clean run). Real processes and real SIGKILLs; forked after the imports to keep each cheap.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bench.fault_matrix import fresh_postgres, migrated_sqlite
from connectors.slack.sandbox import TOKEN, Sandbox
from connectors.slack.tables import slack_messages
from pipeline.db import create_engine
from pipeline.orchestrator import STEPS, Orchestrator, RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.tables import event_outbox

MAX_ATTEMPTS = 40


def run_once(url: str, api_url: str, kill_at: tuple[str, int] | None) -> bool:
    """One run in a forked process; True if it was SIGKILLed (False: it ended by itself)."""
    pid = os.fork()
    if pid == 0:  # the child: its own engine, SIGKILL itself at the chosen step
        code = 3
        try:
            engine = create_engine(url)

            def step(name: str, page: int) -> None:
                if (name, page) == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

            options = RunOptions(settings={"api_url": api_url, "token": TOKEN}, on_step=step)
            stream, sub = get_stream("slack-messages"), Subscription("slack", "messages")
            run = Orchestrator(engine).run(stream, sub, options=options)
            code = 0 if run.status in ("success", "no_changes") else 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def storm(url: str, api_url: str, rng: random.Random, kills: int) -> int:
    """Up to `kills` killed attempts, then runs until one ends by itself; the kills made."""
    for made in range(MAX_ATTEMPTS):
        kill_at = (rng.choice(STEPS), rng.randint(1, 4)) if made < kills else None
        if not run_once(url, api_url, kill_at):
            return made
    raise RuntimeError("no run finished")


def events(url: str) -> Counter[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(event_outbox.c.type, event_outbox.c.payload))
            return Counter((r.type, r.payload["externalId"]) for r in rows)
    finally:
        engine.dispose()


def live(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            t = slack_messages.c
            query = sa.select(t.external_id).where(t.deleted_at.is_(None))
            return set(conn.execute(query).scalars())
    finally:
        engine.dispose()


def churn(sandbox: Sandbox, rng: random.Random) -> list[str]:
    """Delete two plain messages and edit one in #general; the deleted ids."""
    general = sandbox.channel("general")
    plain = [m["ts"] for m in sandbox.state()["messages"][general] if "thread_ts" not in m]
    gone = rng.sample(plain[-10:], 2)
    for ts in gone:
        sandbox.workspace.delete(general, ts)
    sandbox.workspace.edit(general, plain[-11], f"edited {rng.random()}")
    return [f"{general}:{ts}" for ts in gone]


def trial(seed: int, url: str, reference: str, kills: int) -> dict[str, int]:
    rng = random.Random(seed)
    sandbox = Sandbox(seed, regime="unlimited", messages_per_channel=30)
    with sandbox.serving() as served:
        api = f"{served}/api/"
        made = storm(url, api, rng, kills)
        run_once(reference, api, None)
        gone = churn(sandbox, rng)
        made += storm(url, api, rng, kills)
        deferred = len(set(gone) & live(url))
        run_once(reference, api, None)
    got, want = events(url), events(reference)
    return {
        "kills": made,
        "lost": sum((want - got).values()),
        "duplicated": sum((got - want).values()),
        "deferred_deletions": deferred,
    }


def measure(name: str, fresh: Callable[[str], str], trials: int, kills: int) -> None:
    total: Counter[str] = Counter()
    for seed in range(trials):
        total.update(trial(seed, fresh(f"t{seed}"), fresh(f"r{seed}"), kills))
    print(
        f"{name:9} trials {trials:4}  SIGKILLs {total['kills']:5}  lost {total['lost']}  "
        f"duplicated {total['duplicated']}  deferred deletions {total['deferred_deletions']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--kills", type=int, default=5, help="killed attempts per sync")
    parser.add_argument("--postgres", default=os.environ.get("PIPELINE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", lambda n: migrated_sqlite(Path(tmp), n), args.trials, args.kills)
    if args.postgres:
        pg: str = args.postgres
        measure("postgres", lambda n: fresh_postgres(pg, f"storm_{n}"), args.trials, args.kills)


if __name__ == "__main__":
    main()
