"""`pipeline schedule` and lease takeover across real OS processes (DESIGN §4 step 1, engine.md §1-§2).

These tests wait on real time (several processes share one database), with short intervals and
TTLs so each stays under about 20 s. They run on SQLite and, when PIPELINE_TEST_POSTGRES_URL is
set, on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.slack.sandbox import Sandbox
from pipeline.db import create_engine
from pipeline.tables import event_outbox, runs

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("slow_worker.py")
TOKEN_ENV = "E2E_SLACK_TOKEN"
TENANTS = [f"t{n:02}" for n in range(10)]
STOPPED = re.compile(
    r"^stopped (after page \d+; the next run resumes there|before its first page; the next run starts there)$"
)


@pytest.fixture(scope="module")
def slack_api() -> Iterator[str]:
    """One real-HTTP sandbox for the module; `unlimited` so 20 subscriptions are never rate limited."""
    sandbox = Sandbox(seed=0, regime="unlimited")
    with sandbox.serving() as url:
        yield f"{url}/api/"


def schedule_config(tmp_path: Path, api_url: str, text: str | None = None) -> Path:
    """20 subscriptions: slack-users and slack-channels for 10 tenants, every second."""
    if text is None:
        text = "lease_ttl_s = 5\n" + "".join(
            f'[[subscriptions]]\nstream = "{stream}"\ntenant = "{tenant}"\ninterval = "1s"\n'
            f'token_env = "{TOKEN_ENV}"\napi_url = "{api_url}"\nmax_wait_s = 0\n\n'
            for tenant in TENANTS
            for stream in ("slack-users", "slack-channels")
        )
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    return path


def pipeline(url: str, config: Path, *command: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PIPELINE_CONFIG": str(config), TOKEN_ENV: "xoxb-sandbox-token"}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--db", url, *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def worker(url: str, ttl_s: float, delay_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, str(ttl_s), str(delay_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], wanted: str, timeout_s: float = 10) -> None:
    """Read the worker's stdout until `wanted` appears (its `committed page N` lines)."""
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == wanted:
            return
        if not line and proc.poll() is not None:
            break
    pytest.fail(f"worker never printed {wanted!r}")


def kill_all(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def rows(url: str, query: Any) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def wait_until_both_ran_everything(
    url: str, procs: list[subprocess.Popen[str]], timeout_s: float = 30
) -> None:
    """Poll the ledger until each process has finished a run and each of the 20 subscriptions has one."""
    finished = sa.select(runs.c.subscription_id, runs.c.owner).where(
        runs.c.status.in_(("success", "no_changes"))
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = rows(url, finished)
        if (
            len({r["subscription_id"] for r in done}) == 20
            and len({r["owner"].split(":")[1] for r in done}) == 2
        ):
            return
        assert all(proc.poll() is None for proc in procs), "a scheduler exited early"
        time.sleep(0.25)
    pytest.fail("the two schedulers did not run every subscription in time")


def assert_no_duplicate_events(url: str) -> list[dict[str, Any]]:
    events = rows(url, sa.select(event_outbox))
    assert len({e["event_id"] for e in events}) == len(events)
    created = Counter(
        (e["tenant_id"], e["aggregateid"], e["type"])
        for e in events
        if e["type"].endswith("_created")
    )
    assert [key for key, n in created.items() if n > 1] == []
    return events


def test_two_schedulers_never_overlap_a_subscription(
    db_url: str, tmp_path: Path, slack_api: str
) -> None:
    config = schedule_config(tmp_path, slack_api)
    procs = [pipeline(db_url, config, "schedule") for _ in range(2)]
    try:
        wait_until_both_ran_everything(db_url, procs)
        time.sleep(2)  # a few more rounds in which the two processes compete for every lease
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=15) for proc in procs]
    finally:
        kill_all(*procs)

    assert [proc.returncode for proc in procs] == [0, 0], outputs
    ledger = rows(
        db_url, sa.select(runs).where(runs.c.status != "skipped").order_by(runs.c.started_at)
    )
    assert [
        r
        for r in ledger
        if r["status"] not in ("success", "no_changes", "throttled")
        and not (r["status"] == "stopped" and STOPPED.match(r["error"]))
    ] == []  # SIGTERM: a run in flight ends `stopped` after its current page
    by_sub: dict[str, list[dict[str, Any]]] = {}
    for run in ledger:
        by_sub.setdefault(run["subscription_id"], []).append(run)
    assert len(by_sub) == 20, outputs
    assert {r["owner"].split(":")[1] for r in ledger} == {
        str(proc.pid) for proc in procs
    }  # both did work
    overlaps = [
        (a["id"], b["id"])
        for sub_runs in by_sub.values()
        for a, b in pairwise(sub_runs)
        if a["completed_at"] > b["started_at"]
    ]
    assert overlaps == []
    events = assert_no_duplicate_events(db_url)
    truth = Sandbox(seed=0).state()  # the served workspace, synced once per tenant
    expected = {"user_created": len(truth["users"]), "channel_created": len(truth["channels"])}
    assert Counter(e["type"] for e in events) == {k: n * len(TENANTS) for k, n in expected.items()}


def test_a_killed_holder_is_taken_over_at_once_and_nothing_is_duplicated(db_url: str) -> None:
    first = worker(db_url, ttl_s=30, delay_s=2)
    second: subprocess.Popen[str] | None = None
    try:
        wait_for_line(first, "committed page 2")
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = worker(db_url, ttl_s=30, delay_s=0)  # TTL 30 s: only the dead pid frees the lease
        out, err = second.communicate(timeout=15)
    finally:
        kill_all(first, *([second] if second else []))

    assert (second.returncode, out.splitlines()[-1]) == (0, "run success"), err
    killed, resumed = rows(db_url, sa.select(runs).order_by(runs.c.started_at))
    assert (killed["status"], killed["pages"]) == ("failed", 2)
    assert "is gone" in killed["error"]
    assert (resumed["status"], resumed["pages"], resumed["created"]) == ("success", 4, 12)
    assert len(assert_no_duplicate_events(db_url)) == 18


def test_a_stopped_holder_loses_its_lease_and_writes_nothing_after_it_resumes(db_url: str) -> None:
    first = worker(db_url, ttl_s=2, delay_s=1)
    second: subprocess.Popen[str] | None = None
    try:
        wait_for_line(first, "committed page 1")
        os.kill(first.pid, signal.SIGSTOP)
        time.sleep(3)  # past the 2 s TTL: the stopped holder's heartbeat cannot renew it
        second = worker(db_url, ttl_s=2, delay_s=0)
        out, err = second.communicate(timeout=15)
        assert (second.returncode, out.splitlines()[-1]) == (0, "run success"), err
        events_before = len(rows(db_url, sa.select(event_outbox)))
        os.kill(first.pid, signal.SIGCONT)
        first_out, _ = first.communicate(timeout=15)
    finally:
        kill_all(first, *([second] if second else []))

    assert (first.returncode, first_out.splitlines()[-1]) == (1, "run lost_lease")
    stalled, took_over = rows(db_url, sa.select(runs).order_by(runs.c.started_at))
    assert (stalled["status"], stalled["pages"]) == ("lost_lease", 1)
    assert (took_over["status"], took_over["pages"]) == ("success", 5)
    assert len(assert_no_duplicate_events(db_url)) == events_before == 18


def test_a_bad_config_exits_2_with_one_line_and_leaves_the_database_alone(
    tmp_path: Path, slack_api: str
) -> None:
    config = schedule_config(
        tmp_path, slack_api, '[[subscriptions]]\nstream = "slack-users"\ninterval = "often"\n'
    )
    db_path = tmp_path / "untouched.db"

    proc = pipeline(f"sqlite:///{db_path}", config, "schedule")
    try:
        out, err = proc.communicate(timeout=15)
    finally:
        kill_all(proc)

    assert proc.returncode == 2
    assert err.splitlines() == [
        f"error: {config}: subscriptions[0].interval: 'often' is not a duration: "
        "use a number and a unit, e.g. 30s, 5m, 12h or 7d"
    ]
    assert out == ""
    assert not db_path.exists()
