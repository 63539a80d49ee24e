"""`python -m bench --path e2e --e2e-transport http --pacing real`: our sync and dlt's side by side
against the same Slack sandbox over real HTTP with real waiting (issue 15, item 4).

For each server profile (`unthrottled`; `tier3`: 50 requests/minute per method, a bucket of 10,
429 with `Retry-After`), each tool gets a fresh sandbox process (same seed, same workspace) and a
fresh SQLite database, then runs a first sync and, after 10 % of the messages are edited through
the sandbox's control API, a re-sync. Before each sync the server's buckets are refilled (as if
the schedule had waited), so each run meets a rested budget. Each run is a fresh process; the
counts of API calls and 429s are the server's (the same ruler for both tools), the waiting each
tool's own (our client's `on_wait`, dlt's tenacity sleeps).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench import engine_path
from bench.__main__ import REPO

TOKEN = "xoxb-sandbox-token"
PROFILES: dict[str, dict[str, Any]] = {
    "unthrottled": {"regime": "unlimited", "burst": None},
    "tier3": {"regime": "tier3", "burst": 10},
}
WORKSPACES: dict[str, dict[str, Any]] = {  # 2 channels the bot reads; 2 % of messages start threads
    "15.7k": {"channels": 2, "messages_per_channel": 7500, "thread_ratio": 0.02},
    "3.2k": {"channels": 2, "messages_per_channel": 1500, "thread_ratio": 0.02},
}
TOOLS = ("ours", "dlt")
SCENARIOS = ("initial", "resync")


def start_server(spec: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "bench.sandbox_server", json.dumps(spec)]
    process = subprocess.Popen(command, cwd=REPO, env=_env(), stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())["url"]


def control(url: str, op: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = httpx.post(f"{url}/_sandbox/{op}", json=body or {}, timeout=120)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def worker(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One sync in a fresh process (`bench.worker`); its last JSON line is the result."""
    command = [sys.executable, "-m", "bench.worker", json.dumps(spec)]
    done = subprocess.run(
        command,
        cwd=spec["workdir"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {done.returncode}: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, RUNTIME__DLTHUB_TELEMETRY="false")


def server_counts(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """API calls and 429s the server saw between two metric reads, in all and per method."""
    calls = {m: n - before["calls"].get(m, 0) for m, n in after["calls"].items()}
    limited = {m: n - before["ratelimited"].get(m, 0) for m, n in after["ratelimited"].items()}
    return {
        "api_calls": sum(calls.values()),
        "rate_limited": sum(limited.values()),
        "calls_by_method": {m: n for m, n in calls.items() if n},
        "rate_limited_by_method": {m: n for m, n in limited.items() if n},
    }


def measure(
    profile: str, workspace: str, tool: str, workdir: Path, timeout: float
) -> list[dict[str, Any]]:
    """A fresh server and database for one tool: its first sync, then its re-sync."""
    spec = {"seed": 0, **WORKSPACES[workspace], **PROFILES[profile]}
    server, url = start_server(spec)
    db_url = f"sqlite:///{workdir / f'{profile}-{workspace}-{tool}.db'}"
    if tool == "ours":
        engine_path.prepare(db_url)
    rows = []
    try:
        for scenario in SCENARIOS:
            if scenario == "resync":
                churned = control(url, "churn", {"seed": 1, "edit_ratio": 0.10, "delete_ratio": 0})
            control(url, "regime", {"regime": spec["regime"]})  # fresh buckets: a rested budget
            before, load = control(url, "metrics"), os.getloadavg()[0]
            path = "e2e_real" if tool == "ours" else "dlt_http"
            run = {"path": path, "url": db_url, "api_url": f"{url}/api/", "token": TOKEN}
            result = worker({**run, "workdir": str(workdir)}, timeout)
            row = {"profile": profile, "workspace": workspace, "tool": tool, "scenario": scenario}
            row.update(load_1m=round(load, 1), **result)
            if "error" not in result:
                row.update(server_counts(before, control(url, "metrics")))
            if scenario == "resync":
                row["churned"] = churned
            rows.append(row)
            print(_line(row), file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.wait()
    return rows


def _line(row: dict[str, Any]) -> str:
    head = f"  {row['profile']:11} {row['workspace']:5} {row['tool']:4} {row['scenario']:7}"
    if "error" in row:
        return f"{head} FAILED: {row['error']}"
    return (
        f"{head} {row['messages']:>6} msgs {row['seconds']:7.1f} s, {row['api_calls']:>4} calls, "
        f"{row['rate_limited']:>3} 429s, waited {row['waited_s']:6.1f} s (load {row['load_1m']})"
    )


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| profile | workspace | tool | sync | messages | wall s | API calls | 429s | waiting s | CPU s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            out.append(
                f"| {r['profile']} | {r['workspace']} | {r['tool']} | {r['scenario']} | error: {r['error'][:60]} |||||||"
            )
            continue
        out.append(
            f"| {r['profile']} | {r['workspace']} | {r['tool']} | {r['scenario']} | {r['messages']:,} | "
            f"{r['seconds']:.1f} | {r['api_calls']} | {r['rate_limited']} | {r['waited_s']:.1f} | "
            f"{r['cpu_seconds']:.1f} | {r['load_1m']} |"
        )
    return "\n".join(out)


def main(
    profiles: list[str], workspaces: dict[str, str], json_path: str | None, timeout: float
) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-pacing-"))
    rows: list[dict[str, Any]] = []
    for profile in profiles:
        for tool in TOOLS:
            rows += measure(profile, workspaces[profile], tool, workdir, timeout)
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    print(lines)
    if json_path:
        Path(json_path).write_text(lines + "\n")
    print("\n" + table(rows), file=sys.stderr)
    return 0
