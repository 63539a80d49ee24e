"""`pipeline schedule` at scale (DESIGN §9, §10): real processes claim due subscriptions from the
database, against the Slack sandbox over HTTP; one is SIGSTOPped and resumed, one SIGKILLed.

These tests wait on real time (several processes share one database), with a 3 s lease TTL and
1 s intervals so each stays under about 20 s per database.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from connectors.slack.sandbox import Sandbox
from pipeline.consumer_sql import OffsetStore, Position
from pipeline.db import as_utc, create_engine
from pipeline.scheduler import Scheduler, ScheduleSettings
from pipeline.subscription_store import SubscriptionStore, Trigger, validated_subscription
from pipeline.subscriptions import Subscription
from pipeline.tables import event_outbox, runs
from pipeline.testing import ScriptedSource, item
from tests.e2e.test_schedule import assert_no_duplicate_events, kill_all, rows

ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = "E2E_CLAIMS_SLACK_TOKEN"
TTL_S = 3.0
STREAMS = ("slack-users", "slack-channels")


@pytest.fixture(scope="module")
def slack_api() -> Iterator[str]:
    with Sandbox(seed=0, regime="unlimited").serving() as url:
        yield f"{url}/api/"


def add_subscriptions(url: str, api_url: str, tenants: list[str], interval_s: float) -> list[str]:
    """One subscription per stream and tenant, due now; their ids."""
    engine = create_engine(url)
    store, ids = SubscriptionStore(engine), []
    settings = {"token_env": TOKEN_ENV, "api_url": api_url, "max_wait_s": 0}
    try:
        for tenant in tenants:
            for stream in STREAMS:
                sub = validated_subscription(stream, tenant, "default", settings)
                store.add(sub, Trigger(interval_s), datetime.now(UTC))
                ids.append(sub.id)
    finally:
        engine.dispose()
    return ids


def schedule(url: str, config: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PIPELINE_CONFIG": str(config), TOKEN_ENV: "xoxb-sandbox-token"}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--db", url, "schedule", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(f"lease_ttl_s = {TTL_S}\nworkers = 4\npoll_interval_s = 0.5\n")
    return path


def finished(url: str) -> list[dict[str, Any]]:
    return rows(url, sa.select(runs).where(runs.c.status.in_(("success", "no_changes"))))


def wait_for(check: Any, procs: list[subprocess.Popen[str]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        assert all(p.poll() is None for p in procs), "a scheduler exited early"
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _describe(run: dict[str, Any]) -> str:
    times = f"{run['started_at']:%H:%M:%S.%f}..{run['completed_at'] or datetime.min:%H:%M:%S.%f}"
    return f"{run['status']} {run['owner']} token {run['fencing_token']} {times} {run['error']}"


def overlaps(ledger: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Pairs of runs of one subscription that overlapped. A run that lost its lease (its process
    was stopped) may end after its successor started, but must have written nothing after that."""
    by_sub: dict[str, list[dict[str, Any]]] = {}
    for run in sorted(ledger, key=lambda r: as_utc(r["started_at"])):
        by_sub.setdefault(run["subscription_id"], []).append(run)
    written: dict[str, list[datetime]] = {}
    for event in events:
        written.setdefault(event["run_id"], []).append(as_utc(event["occurred_at"]))
    found = []
    for sub_runs in by_sub.values():
        for a, b in pairwise(sub_runs):
            end = as_utc(a["completed_at"])
            if a["status"] == "lost_lease":
                end = max(written.get(a["id"], []), default=as_utc(a["started_at"]))
            if end is None or end > as_utc(b["started_at"]):
                found.append(tuple(_describe(r) for r in (a, b)))
    return found


def test_three_schedulers_share_the_work_and_survive_a_stop_and_a_kill(
    db_url: str, tmp_path: Path, slack_api: str
) -> None:
    ids = add_subscriptions(db_url, slack_api, [f"t{n}" for n in range(5)], interval_s=1)
    config = settings_file(tmp_path)
    procs = [schedule(db_url, config) for _ in range(3)]
    stopped, killed = procs[1], procs[2]
    try:
        wait_for(
            lambda: {r["subscription_id"] for r in finished(db_url)} == set(ids),
            procs,
            40,  # process start-up takes seconds on a busy 2-core machine
            "every subscription to run",
        )
        os.kill(stopped.pid, signal.SIGSTOP)
        time.sleep(TTL_S + 1)  # its leases expire; the others take its subscriptions over
        os.kill(stopped.pid, signal.SIGCONT)
        os.kill(killed.pid, signal.SIGKILL)
        killed_at = datetime.now(UTC)
        time.sleep(2 * TTL_S + 1)
        for proc in procs[:2]:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=20) for proc in procs[:2]]
    finally:
        kill_all(*procs)

    assert [p.returncode for p in procs[:2]] == [0, 0], outputs
    ledger = rows(db_url, sa.select(runs))
    events = rows(db_url, sa.select(event_outbox))
    assert [r for r in ledger if r["status"] == "skipped"] == []
    assert [r["status"] for r in ledger if r["status"] == "running"] == []
    assert overlaps(ledger, events) == []
    pids = {r["owner"].split(":")[1] for r in ledger}
    assert {str(p.pid) for p in procs} <= pids  # all three did work
    # a killed holder's lease runs out within one TTL; its subscription is claimed again within
    # one more (sleeping schedulers wake every poll interval; start-up is slow on a busy machine)
    resumed_by = killed_at + timedelta(seconds=2 * TTL_S)
    late = [
        sub_id
        for sub_id in ids
        if not any(
            r["subscription_id"] == sub_id and killed_at < as_utc(r["started_at"]) <= resumed_by
            for r in ledger
        )
    ]
    assert late == []  # the killed process's subscriptions too
    errors = {r["error"] for r in ledger if r["status"] == "failed"}
    assert all(re.match(r"(interrupted: .* gone|stopped by shutdown)", e) for e in errors), errors
    assert_no_duplicate_events(db_url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        metric_name, _, rest = sample.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric_name == name and got == wanted:
            return float(value)
    raise AssertionError(f"no sample {name}{{{wanted}}}")


def test_metrics_endpoint_counts_the_runs_of_a_real_scheduler(
    db_url: str, tmp_path: Path, slack_api: str
) -> None:
    engine = create_engine(db_url)
    with engine.begin() as conn:
        OffsetStore().register(conn, "audit", Position(0, 0), {}, datetime.now(UTC))
    engine.dispose()
    ids = add_subscriptions(db_url, slack_api, ["m1", "m2"], interval_s=3600)  # each runs once
    port = free_port()
    proc = schedule(db_url, settings_file(tmp_path), "--metrics-port", str(port))
    try:
        wait_for(lambda: len(finished(db_url)) == len(ids), [proc], 15, "one run per subscription")
        events = rows(db_url, sa.select(event_outbox))
        lag = lambda: metric(scrape(port), "pipeline_outbox_consumer_lag_events", consumer="audit")  # noqa: E731
        wait_for(lambda: lag() == len(events), [proc], 5, "the lag gauge")
        text = scrape(port)
    finally:
        kill_all(proc)

    truth = Sandbox(seed=0).state()
    for tenant in ("m1", "m2"):
        assert (
            metric(
                text, "pipeline_runs_total", stream="slack-users", tenant=tenant, status="success"
            )
            == 1
        )
    assert metric(
        text, "pipeline_records_total", stream="slack-users", operation="created"
    ) == 2 * len(truth["users"])
    assert metric(
        text, "pipeline_records_total", stream="slack-channels", operation="created"
    ) == 2 * len(truth["channels"])
    assert metric(text, "pipeline_run_duration_seconds_count") == len(ids)
    for run in finished(db_url):
        success = metric(
            text, "pipeline_last_success_timestamp_seconds", subscription=run["subscription_id"]
        )
        assert success == pytest.approx(as_utc(run["completed_at"]).timestamp(), abs=0.01)


def scrape(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite schedulers poll
def test_a_notify_wakes_an_idle_scheduler_at_once(db_url: str) -> None:
    engine = create_engine(db_url)
    settings = ScheduleSettings(workers=1, lease_ttl_s=30, poll_interval_s=60)  # never polls here
    scheduler = Scheduler(engine, settings, source_for=lambda s: ScriptedSource([[item("1")]]))
    done = threading.Event()
    thread = threading.Thread(target=scheduler.serve_forever, args=(done,))
    thread.start()
    try:
        time.sleep(0.5)  # it has found nothing due and sleeps for a poll interval
        SubscriptionStore(engine).add(
            Subscription("testing", "items", "w"), Trigger(3600), datetime.now(UTC)
        )
        added_at = time.monotonic()
        wait_for(
            lambda: rows(db_url, sa.select(runs).where(runs.c.status == "success")),
            [],
            5,
            "the run",
        )
        woke_after_s = time.monotonic() - added_at
    finally:
        done.set()
        scheduler.wake.set()
        thread.join(10)
        engine.dispose()

    assert woke_after_s < 3


def test_a_busy_metrics_port_is_one_line_and_exit_2(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cli import main

    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["--db", db_url, "schedule", "--metrics-port", str(port)])

    assert code == 2
    assert capsys.readouterr().err == f"error: --metrics-port {port}: Address already in use\n"
