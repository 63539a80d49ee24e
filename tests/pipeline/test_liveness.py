"""An honest ledger and a run that stops when it lost its lease (issue 10, findings 7, 8, 9)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.slack.sandbox import TOKEN, Sandbox
from pipeline.cli import main
from pipeline.db import with_reconnect
from pipeline.http.clock import FakeClock
from pipeline.leases import LeaseStore
from pipeline.ledger import Run
from pipeline.orchestrator import RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.tables import leases
from pipeline.testing import Db, ScriptedSource, item
from tests.pipeline.test_leases import GatedSource


def test_stale_holders_finish_never_reopens_the_row_its_takeover_closed(
    db: Db, clock: FakeClock
) -> None:  # finding 7
    takeover: list[Run] = []

    def stall_past_ttl() -> None:
        clock.advance(61)
        takeover.append(db.run(ScriptedSource([[item("b")]])))
        clock.advance(5)  # the stale holder wakes up later and finishes

    source = GatedSource([[item("a1")], [item("a2")]], {2: stall_past_ttl})
    stale = db.run(source, options=RunOptions(lease_ttl_s=60))

    row, new = db.run_row(stale.id), db.run_row(takeover[0].id)
    assert (row["status"], new["status"]) == ("lost_lease", "success")
    assert row["completed_at"] <= new["started_at"]  # the ledger never shows them overlapping
    assert row["error"].startswith("lease taken over")


def heartbeat_alive() -> bool:
    return any(t.name == "lease-heartbeat" for t in threading.enumerate())


def test_a_lease_found_lost_by_the_heartbeat_stops_vendor_calls_at_once(
    db: Db, clock: FakeClock
) -> None:  # finding 9
    sandbox = Sandbox(0, clock=clock.now, messages_per_channel=20)
    calls_at_theft: list[int] = []

    def steal(run: Run) -> None:
        with db.engine.begin() as conn:
            conn.execute(leases.update().values(owner="thief", fencing_token=99))
        calls_at_theft.append(sum(sandbox.calls.values()))
        deadline = time.monotonic() + 5  # the heartbeat beats every 10 ms on real time
        while heartbeat_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    settings = {"transport": sandbox.transport(), "api_url": sandbox.base_url, "token": TOKEN}
    options = RunOptions(settings=settings, on_page=steal, heartbeat_s=0.01)
    run = db.orchestrator.run(
        get_stream("slack-messages"), Subscription("slack", "messages"), options=options
    )

    assert (run.status, run.pages) == ("lost_lease", 1)
    assert "no more vendor calls" in (run.error or "")
    assert sum(sandbox.calls.values()) == calls_at_theft[0]


def test_pipeline_run_holds_the_lease_for_the_configs_lease_ttl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # finding 9
    config = tmp_path / "pipeline.toml"
    config.write_text("lease_ttl_s = 7\n")
    monkeypatch.setenv("PIPELINE_CONFIG", str(config))
    asked: list[float] = []
    acquire = LeaseStore.acquire

    def recording(self: LeaseStore, *args: Any) -> Any:
        asked.append(args[-1])
        return acquire(self, *args)

    monkeypatch.setattr(LeaseStore, "acquire", recording)

    code = main(["run", "slack-users", "--sandbox", "--db", f"sqlite:///{tmp_path}/p.db"])

    assert (code, asked) == (0, [7.0])


def test_a_ledger_write_is_tried_again_while_the_database_is_unreachable() -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise sa.exc.OperationalError("UPDATE integration_runs", {}, Exception("restarting"))
        return "written"

    assert with_reconnect(flaky, waits_s=(0, 0, 0, 0)) == "written" and len(attempts) == 3
