"""End-to-end path: the real `slack-messages` stream (MessagesSource, SlackClient, the HTTP layer)
against the seeded Slack sandbox, through the real Orchestrator.

The sandbox is rebuilt deterministically in every run's process (same seed and sizes → the same
workspace), in-process (httpx WSGI transport, the default) or over real HTTP on 127.0.0.1. Its rate
limits run on a simulated clock shared with our client (as `pipeline run --sandbox` does), so a
run never sleeps for real but still pays every API call. Scenarios:

- `initial`: first sync of the workspace;
- `nochange`: the same workspace again (every window re-read: `lookback_days` covers it all);
- `churn`: `churn(ws, seed, edit_ratio=0.10, delete_ratio=0.01)` then 1 % new messages posted.

`records` is the number of top-level messages asked for; threads add replies, and the bot is not a
member of two of the seeded channels, so the messages actually synced are reported as counted.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from bench.measure import Stopwatch, pg_server_cpu_s
from pipeline.db import create_engine
from pipeline.http.clock import FakeClock, SystemClock
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription

CHANNELS = 12  # 10 synced: the bot is not in #watercooler and #announcements-2024 is archived
SYNCED_CHANNELS = 10
SUBSCRIPTION = Subscription(
    "slack", "messages", tenant_id="bench-e2e", config={"lookback_days": 36500}
)


def build_sandbox(scenario: str, records: int, seed: int, clock: FakeClock) -> Any:
    """The workspace as this scenario sees it (rebuilt from the seed in every process)."""
    from connectors.slack.sandbox import Sandbox, churn

    per_channel = max(1, records // SYNCED_CHANNELS)
    sandbox = Sandbox(
        seed, clock=clock.now, channels=CHANNELS, messages_per_channel=per_channel, users=40
    )
    if scenario == "churn":
        ws = sandbox.workspace
        churned = churn(ws, seed + 1, edit_ratio=0.10, delete_ratio=0.01)
        members = [c for c in ws.channels.values() if c.is_member and not c.is_archived]
        new = max(1, records // 100)
        for i in range(new):
            ws.post(members[i % len(members)].id, f"new message {i} 🚀")
        sandbox.churned = {**churned, "posted": new}
    return sandbox


def run(
    url: str,
    scenario: str,
    records: int,
    seed: int = 0,
    transport: str = "inprocess",
    prefetch: bool = True,
    latency_ms: float = 0.0,
) -> dict[str, Any]:
    from connectors.slack.sandbox import DEFAULT_NOW

    stream = get_stream("slack-messages")
    simulated = FakeClock(datetime.fromtimestamp(DEFAULT_NOW, UTC))
    sandbox = build_sandbox(scenario, records, seed, simulated)
    engine = create_engine(url)
    server_cpu = None
    try:
        with ExitStack() as stack:
            if transport == "http":
                if latency_ms > 0:  # every call answered that late, as a vendor across a network
                    sandbox.faults.timeout(times=None, delay_s=latency_ms / 1000)
                root = stack.enter_context(sandbox.serving())
                settings: dict[str, Any] = {"api_url": f"{root}/api/"}
            else:
                settings = {"transport": sandbox.transport(), "api_url": sandbox.base_url}
            settings.update(token=sandbox.token, http_clock=simulated)
            orchestrator = Orchestrator(engine, SystemClock())
            watch = Stopwatch().start()
            options = RunOptions(settings=settings, prefetch=prefetch)
            result = orchestrator.run(stream, SUBSCRIPTION, options=options)
            watch.stop()
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                server_cpu = pg_server_cpu_s(conn.connection.driver_connection)
    finally:
        engine.dispose()
    if result.status not in ("success", "no_changes"):
        raise RuntimeError(f"e2e run ended {result.status}: {result.error}")
    counts = {k: result.counts[k] for k in ("created", "updated", "deleted", "noop", "failed")}
    messages = result.counts["records_found"]
    metrics = sandbox.metrics()
    return {
        "seconds": watch.wall,
        "cpu_seconds": watch.cpu,
        "server_cpu_seconds": server_cpu,
        "wall_seconds": watch.wall,
        "generate_seconds": 0.0,
        "status": result.status,
        "pages": result.counts["pages"],
        "counts": counts,
        "messages": messages,
        "api_calls": result.counts["api_calls"],
        "rate_limited": result.counts["rate_limited"],
        "api_calls_per_message": round(result.counts["api_calls"] / messages, 4)
        if messages
        else None,
        "calls_by_method": metrics.get("calls"),
        "simulated_wait_s": round(sum(simulated.slept), 1),
        "transport": transport,
        "prefetch": prefetch,
        "latency_ms": latency_ms,
        "churned": getattr(sandbox, "churned", None),
    }


def run_real(url: str, api_url: str, token: str) -> dict[str, Any]:
    """One sync against a sandbox served in real time by another process (`--pacing real`): our
    client paces itself on the real clock, and the learned rates carry over in `url`'s database."""
    stream = get_stream("slack-messages")
    engine = create_engine(url)
    waits: dict[str, float] = {}

    def on_wait(seconds: float, reason: str) -> None:
        waits[reason] = waits.get(reason, 0.0) + seconds

    settings: dict[str, Any] = {"api_url": api_url, "token": token}
    try:
        orchestrator = Orchestrator(engine, SystemClock())
        watch = Stopwatch().start()
        options = RunOptions(settings=settings, on_wait=on_wait)
        result = orchestrator.run(stream, SUBSCRIPTION, options=options)
        watch.stop()
    finally:
        engine.dispose()
    if result.status not in ("success", "no_changes"):
        raise RuntimeError(f"e2e run ended {result.status}: {result.error}")
    return {
        "seconds": watch.wall,
        "cpu_seconds": watch.cpu,
        "status": result.status,
        "messages": result.counts["records_found"],
        "counts": {k: result.counts[k] for k in ("created", "updated", "deleted", "noop")},
        "client_api_calls": result.counts["api_calls"],
        "client_rate_limited": result.counts["rate_limited"],
        "waited_s": round(sum(waits.values()), 2),
        "waits": {k: round(v, 2) for k, v in waits.items()},
    }
