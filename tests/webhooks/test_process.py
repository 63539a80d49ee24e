"""`pipeline serve` as a real process: a SIGKILL between receipt and apply loses nothing; SIGTERM
drains and exits 0; a busy port is one line and exit 2."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa

from connectors.slack.sandbox.events import sign
from pipeline.db import create_engine
from pipeline.tables import event_outbox, inbox
from pipeline.webhooks.applier import Applier
from tests.webhooks.conftest import SECRET, envelope, message

ROOT = Path(__file__).resolve().parents[2]


def start_serve(db_url: str, *flags: str) -> tuple[subprocess.Popen[str], str]:
    """`pipeline serve --port 0 …`; returns the process and its URL (from its first line)."""
    env = {**os.environ, "SLACK_SIGNING_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    env.pop("PIPELINE_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "--db", db_url, "serve", "--port", "0", *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert found, f"serve did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
    return proc, found.group(0)


def post(url: str, payload: dict[str, object]) -> httpx.Response:
    body = orjson.dumps(payload)
    timestamp = str(int(time.time()))  # a real process checks against the real clock
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(SECRET, timestamp, body),
    }
    return httpx.post(f"{url}/webhooks/slack", content=body, headers=headers)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def count(engine: sa.Engine, table: sa.Table, *where: object) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
        )


def test_a_delivery_acknowledged_before_a_sigkill_is_applied_after_it(
    db_url: str, engine: sa.Engine
) -> None:
    proc, url = start_serve(db_url, "--no-apply")  # receipt only: the kill lands before apply
    try:
        acknowledged = post(url, envelope(message(text="survives")))
    finally:
        proc.kill()
        proc.communicate()

    assert acknowledged.status_code == 200
    assert count(engine, inbox, inbox.c.status == "pending") == 1
    Applier(engine).apply_pending()
    assert count(engine, inbox, inbox.c.status == "applied") == 1
    assert count(engine, event_outbox, event_outbox.c.type == "message_created") == 1


def test_sigterm_drains_applies_and_exits_0(db_url: str, engine: sa.Engine) -> None:
    proc, url = start_serve(db_url)
    try:
        assert post(url, envelope(message())).status_code == 200
        deadline = time.monotonic() + 10
        while count(engine, event_outbox) == 0:  # the applier thread, woken by the receipt
            assert time.monotonic() < deadline, "the delivery was never applied"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)

    assert proc.returncode == 0, err
    assert out.strip().endswith("stopped") and "Traceback" not in err


def test_a_busy_port_is_one_line_and_exit_2(db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "--db", db_url, "serve", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use); pick another with --port"
    ]
