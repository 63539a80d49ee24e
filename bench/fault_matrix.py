"""The issue-10 fault matrix: each malformed-but-`ok` Slack answer × page position × database.

    python -m bench.fault_matrix [--postgres URL]

For every cell: a clean first sync of #general, then one run where the sandbox serves the
malformed answer on the first, middle or last page of `conversations.history` (or of a thread's
`conversations.replies`, after a new reply moved the thread), then clean runs until the stored
messages equal the workspace again. Prints, per cell, the false tombstones (any
`message_deleted`: nothing was deleted in the workspace), the faulty run's status and how many
clean runs it took to converge. In-process transport, fake clock: no real wait anywhere.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.slack.sandbox import TOKEN, Sandbox
from connectors.slack.tables import slack_messages
from pipeline.db import create_engine
from pipeline.http.clock import FakeClock
from pipeline.ledger import Run
from pipeline.migrate import upgrade
from pipeline.orchestrator import RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.testing import Db

HISTORY, REPLIES = "conversations.history", "conversations.replies"
POSITIONS = ("first", "middle", "last")
SHAPES = {
    HISTORY: ("empty_has_more", "missing_list", "int_ts", "null_ts", "missing_ts", "list_ts"),
    REPLIES: ("empty_has_more", "missing_list", "no_parent", "lost_replies", "int_ts"),
}
FIRST_PAGE_ONLY = {"no_parent"}  # the parent leads page 1 only: later pages have none to drop
LOOKBACK_S = Decimal(7 * 86400)
MAX_CLEAN_RUNS = 5


@dataclass(frozen=True)
class Cell:
    method: str
    shape: str
    position: str
    dialect: str
    false_tombstones: int
    status: str
    runs_to_converge: int | None  # None: not converged within MAX_CLEAN_RUNS


def cells() -> list[tuple[str, str, str]]:
    """(method, shape, position) of every meaningful cell."""
    return [
        (method, shape, position)
        for method, shapes in SHAPES.items()
        for shape in shapes
        for position in POSITIONS
        if shape not in FIRST_PAGE_ONLY or position == "first"
    ]


class Scenario:
    """One cell's workspace, database and runs (only #general is synced: fast)."""

    def __init__(self, url: str) -> None:
        self.clock = FakeClock()
        self.sandbox = Sandbox(0, clock=self.clock.now, messages_per_channel=20)
        self.general = self.sandbox.channel("general")
        self.engine = create_engine(url)
        self.db = Db(self.engine, self.clock)
        self.settings = {
            "transport": self.sandbox.transport(),
            "api_url": self.sandbox.base_url,
            "token": TOKEN,
            "http_clock": self.clock,
        }

    def sync(self) -> Run:
        run = self.db.orchestrator.run(
            get_stream("slack-messages"),
            Subscription("slack", "messages", config={"channels": [self.general]}),
            options=RunOptions(settings=self.settings),
        )
        self.clock.advance(60)
        return run

    def messages(self) -> list[dict[str, Any]]:
        return list(self.sandbox.state()["messages"][self.general])

    def truth(self) -> set[str]:
        return {
            f"{self.general}:{m['ts']}" for m in self.messages() if m.get("subtype") != "tombstone"
        }

    def live(self) -> set[str]:
        t = slack_messages.c
        query = sa.select(t.external_id).where(t.deleted_at.is_(None))
        return {r["external_id"] for r in self.db.rows(query)}

    def deletes(self) -> int:
        return sum(e["type"] == "message_deleted" for e in self.db.events())

    def in_window(self) -> list[dict[str, Any]]:
        """The top-level messages of the next history window (`high_water − lookback` to now)."""
        top = [m for m in self.messages() if m.get("thread_ts", m["ts"]) == m["ts"]]
        high = max(Decimal(m["ts"]) for m in top)
        return [m for m in top if Decimal(m["ts"]) >= high - LOOKBACK_S]

    def history_pages(self, size: int) -> int:
        return math.ceil(len(self.in_window()) / size)

    def moved_thread_pages(self, size: int) -> int:
        """Post a reply to the window's biggest thread; the pages of its replies walk at `size`."""
        parent = max(self.in_window(), key=lambda m: m.get("reply_count") or 0)
        self.sandbox.workspace.reply(self.general, parent["ts"], "moves the counters")
        self.clock.advance(60)
        return math.ceil((parent["reply_count"] + 2) / size)


def run_cell(url: str, method: str, shape: str, position: str) -> Cell:
    """Clean sync, one faulty run, clean runs until converged."""
    s = Scenario(url)
    try:
        s.sync()
        size = 5 if method == HISTORY else 2
        pages = s.history_pages(size) if method == HISTORY else s.moved_thread_pages(size)
        page = {"first": 1, "middle": pages // 2 + 1, "last": pages}[position]
        s.sandbox.faults.short_pages(size=size, method=method, channel=s.general)
        s.sandbox.faults.malformed(shape, method=method, channel=s.general, page=page)
        faulty = s.sync()
        converged: int | None = None
        for n in range(1, MAX_CLEAN_RUNS + 1):
            clean = s.sync()
            if clean.status in ("success", "no_changes") and s.live() == s.truth():
                converged = n
                break
        return Cell(method, shape, position, s.db.dialect, s.deletes(), faulty.status, converged)
    finally:
        s.engine.dispose()


def migrated_sqlite(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}.db"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("PIPELINE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    print(
        "dialect   method                 shape           page    false_tombstones  status   runs_to_converge"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for index, (method, shape, position) in enumerate(cells()):
            urls = [migrated_sqlite(Path(tmp), f"cell{index}")]
            if args.postgres:
                urls.append(fresh_postgres(args.postgres))
            for url in urls:
                c = run_cell(url, method, shape, position)
                print(
                    f"{c.dialect:9} {c.method:22} {c.shape:15} {c.position:7} "
                    f"{c.false_tombstones:16}  {c.status:8} {c.runs_to_converge}"
                )


def fresh_postgres(url: str, schema: str = "bench_fault_matrix") -> str:
    """A migrated, empty schema of its own on the given server."""
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    engine = create_engine(scoped)
    upgrade(engine)
    engine.dispose()
    return scoped


if __name__ == "__main__":
    main()
