"""`python -m bench`: how fast, how lean, against what (never run by CI or pytest).

    python -m bench                                  # 100k records, both backends, engine path + peers
    python -m bench --records 100000,1000000 --backend sqlite --scenario all --path all --json out.jsonl

For every backend and path (engine, the hand-written baseline, dlt; e2e through the Slack sandbox)
a fresh database runs the scenarios in order (initial → nochange → churn; a scenario that was not
asked for but is needed first runs unmeasured), each run in a fresh process. Prints one JSON line
per measured run (to `--json` too) and a table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import databases
from bench.data import SCENARIOS, scenario_size
from bench.measure import rates

REPO = Path(__file__).resolve().parent.parent
TARGETS = {  # records/s on 2 cores, engine path (bench/README.md "What good is")
    ("sqlite", "initial"): 25_000,
    ("sqlite", "nochange"): 60_000,
    ("sqlite", "churn"): 35_000,
    ("postgres", "initial"): 12_000,
    ("postgres", "nochange"): 40_000,
}
MIN_VS_BASELINE = 0.7
MAX_RSS_MB = 250.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--records",
        default="100000",
        help="records per run; a comma-separated list runs each size (default 100000)",
    )
    p.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    p.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    p.add_argument(
        "--path",
        choices=("engine", "e2e", "all"),
        default="engine",
        help="engine: pre-built pages through the Orchestrator (+ baseline and dlt); "
        "e2e: the Slack stream against the sandbox",
    )
    p.add_argument(
        "--peers",
        default="baseline,dlt",
        help="comparisons run with the engine path: baseline,dlt (or 'none')",
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best is kept")
    p.add_argument("--json", metavar="PATH", help="also write the JSON lines here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", help="where SQLite files and dlt state go (default: a temp dir)")
    p.add_argument("--e2e-transport", choices=("inprocess", "http"), default="inprocess")
    p.add_argument(
        "--pacing",
        choices=("simulated", "real"),
        default="simulated",
        help="e2e over http only: 'real' runs our sync and a dlt peer against a sandbox in real "
        "time, unthrottled and under Tier 3 (bench/pacing_real.py)",
    )
    p.add_argument("--profiles", default="unthrottled,tier3", help="--pacing real: server profiles")
    p.add_argument(
        "--workspace", default="15.7k", help="--pacing real: workspace unthrottled (15.7k|3.2k)"
    )
    p.add_argument(
        "--tier3-workspace", default="3.2k", help="--pacing real: workspace under Tier 3"
    )
    p.add_argument(
        "--no-prefetch",
        action="store_true",
        help="e2e: fetch each page only after the one before it committed (no fetch/commit overlap)",
    )
    p.add_argument(
        "--e2e-latency-ms",
        type=float,
        default=0.0,
        help="e2e over http: the sandbox answers every call this late (a vendor across a network)",
    )
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per run")
    p.add_argument(
        "--pg-url",
        default=None,
        help=f"PostgreSQL URL (default ${databases.BENCH_PG_ENV} or {databases.DEFAULT_PG_URL})",
    )
    return p.parse_args(argv)


def plan_paths(args: argparse.Namespace) -> list[str]:
    paths: list[str] = []
    if args.path in ("engine", "all"):
        paths.append("engine")
        peers = (
            [] if args.peers == "none" else [x.strip() for x in args.peers.split(",") if x.strip()]
        )
        paths += [x for x in ("baseline", "dlt") if x in peers]
    if args.path in ("e2e", "all"):
        paths.append("e2e")
    return paths


def worker(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one spec in a fresh process; its last stdout line is the result."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    env.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.worker", json.dumps(spec)],
            cwd=spec["workdir"],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {done.returncode}: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def reset(path: str, url: str, workdir: Path) -> None:
    databases.reset(url)
    if path == "dlt":
        shutil.rmtree(workdir / "dlt-pipelines", ignore_errors=True)
        shutil.rmtree(workdir / "dlt-data", ignore_errors=True)
        if url.startswith("sqlite"):
            for extra in workdir.glob("dlt__*"):
                extra.unlink()
    else:
        from bench import engine_path

        engine_path.prepare(url)  # migrate (baseline and e2e write into the same schema)


def size_mb(path: str, url: str, workdir: Path) -> float:
    if url.startswith("sqlite"):
        databases.sqlite_checkpoint(url)
        total = databases.size_mb(url)
        if path == "dlt":
            total += sum(p.stat().st_size for p in workdir.glob("dlt__*") if p.is_file()) / 1e6
        return round(total, 1)
    return round(databases.size_mb(url), 1)


def run_sequence(
    args: argparse.Namespace,
    backend: str,
    path: str,
    records: int,
    scenarios: list[str],
    workdir: Path,
) -> dict[str, dict[str, Any]]:
    """A fresh database, then the scenarios in order; returns the measured ones by scenario."""
    url = (
        args.pg_url or databases.pg_url()
        if backend == "postgres"
        else databases.sqlite_url(workdir, path)
    )
    order = [s for s in SCENARIOS if s in scenarios or (s == "initial" and scenarios)]
    reset(path, url, workdir)
    out: dict[str, dict[str, Any]] = {}
    for scenario in order:
        spec = {
            "path": path,
            "scenario": scenario,
            "url": url,
            "records": records,
            "seed": args.seed,
            "workdir": str(workdir),
            "transport": args.e2e_transport,
            "prefetch": not args.no_prefetch,
            "latency_ms": args.e2e_latency_ms,
        }
        started = time.perf_counter()
        result = worker(spec, args.timeout)
        measured = scenario in scenarios
        note = "" if measured else " (setup, not reported)"
        if "error" in result:
            print(f"  {backend:8} {path:8} {scenario:8} FAILED: {result['error']}", file=sys.stderr)
            out[scenario] = result
            break
        result["db_size_mb"] = size_mb(path, url, workdir)
        processed = result.get("messages") or scenario_size(scenario, records)
        print(
            f"  {backend:8} {path:8} {scenario:8} {processed:>8} records in {result['seconds']:7.2f} s "
            f"({processed / result['seconds']:>8.0f}/s, rss {result['peak_rss_mb']:.0f} MB, "
            f"{time.perf_counter() - started:.0f} s with setup){note}",
            file=sys.stderr,
        )
        if measured:
            out[scenario] = result
    return out


def line(
    backend: str, path: str, scenario: str, records: int, result: dict[str, Any]
) -> dict[str, Any]:
    processed = int(result.get("messages") or scenario_size(scenario, records))
    row: dict[str, Any] = {
        "scenario": scenario,
        "backend": backend,
        "path": path,
        "records": processed,
        "records_requested": records,
    }
    if "error" in result:
        return {**row, "error": result["error"]}
    seconds = float(result["seconds"])
    row.update(seconds=round(seconds, 3), **rates(processed, seconds))
    row["cpu_us_per_record"] = round(result["cpu_seconds"] / processed * 1e6, 2)
    if result.get("server_cpu_seconds") is not None:
        row["server_cpu_us_per_record"] = round(result["server_cpu_seconds"] / processed * 1e6, 2)
    row.update(
        peak_rss_mb=result["peak_rss_mb"],
        db_size_mb=result["db_size_mb"],
        wall_seconds=round(result["wall_seconds"], 3),
        generate_seconds=round(result.get("generate_seconds", 0.0), 3),
        counts=result.get("counts"),
    )
    for key in (
        "api_calls",
        "api_calls_per_message",
        "calls_by_method",
        "simulated_wait_s",
        "transport",
        "prefetch",
        "latency_ms",
        "churned",
        "strategy",
        "dlt_version",
        "repeats",
        "all_seconds",
    ):
        if key in result:
            row[key] = result[key]
    return row


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    chosen = dict(min(ok, key=lambda r: r["seconds"]))
    chosen["repeats"] = len(ok)
    chosen["all_seconds"] = [round(r["seconds"], 3) for r in ok]
    return chosen


def compare(lines: list[dict[str, Any]]) -> None:
    """Attach baseline and dlt figures, ratios and target checks to the engine lines."""
    by = {(ln["backend"], ln["path"], ln["scenario"], ln["records_requested"]): ln for ln in lines}
    for ln in lines:
        key = (ln["backend"], ln["scenario"], ln["records_requested"])
        base = by.get((key[0], "baseline", key[1], key[2]))
        comparable = (
            base is not None and "error" not in base and ln["path"] != "e2e"
        )  # e2e: another workload
        ln["baseline_records_per_s"] = base["records_per_s"] if comparable and base else None
        if ln["path"] != "engine" or "error" in ln:
            continue
        if ln["baseline_records_per_s"]:
            ln["engine_vs_baseline"] = round(ln["records_per_s"] / ln["baseline_records_per_s"], 2)
            ln["meets_vs_baseline"] = ln["engine_vs_baseline"] >= MIN_VS_BASELINE
        peer = by.get((key[0], "dlt", key[1], key[2]))
        if peer and "error" not in peer:
            ln["dlt_records_per_s"] = peer["records_per_s"]
            ln["engine_vs_dlt"] = round(ln["records_per_s"] / peer["records_per_s"], 2)
            ln["ahead_of_dlt"] = ln["engine_vs_dlt"] > 1
        elif peer:
            ln["dlt_error"] = peer["error"]
        target = TARGETS.get((ln["backend"], ln["scenario"]))
        if target:
            ln["target_records_per_s"] = target
            ln["meets_target"] = ln["records_per_s"] >= target
        ln["meets_rss"] = ln["peak_rss_mb"] <= MAX_RSS_MB


def rss_flatness(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Peak RSS of the smallest vs the largest size, per backend/path/scenario (flat: within 20 %)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for ln in lines:
        if "error" not in ln:
            groups.setdefault((ln["backend"], ln["path"], ln["scenario"]), []).append(ln)
    out = []
    for (backend, path, scenario), group in sorted(groups.items()):
        if len(group) < 2:
            continue
        small = min(group, key=lambda g: g["records_requested"])
        large = max(group, key=lambda g: g["records_requested"])
        growth = large["peak_rss_mb"] / small["peak_rss_mb"] - 1
        out.append(
            {
                "check": "rss_flat",
                "backend": backend,
                "path": path,
                "scenario": scenario,
                "records": [small["records_requested"], large["records_requested"]],
                "peak_rss_mb": [small["peak_rss_mb"], large["peak_rss_mb"]],
                "growth": round(growth, 3),
                "flat": abs(growth) <= 0.20,
            }
        )
    return out


def table(lines: list[dict[str, Any]]) -> str:
    head = (
        f"{'backend':<9}{'path':<9}{'scenario':<9}{'records':>9}{'rec/s':>9}{'µs/rec':>8}{'cpu µs':>8}"
        f"{'srv µs':>8}{'×base':>7}{'×dlt':>7}{'RSS MB':>8}{'DB MB':>8}{'calls/msg':>10}  target"
    )
    rows = [head, "-" * len(head)]
    for ln in lines:
        if "error" in ln:
            rows.append(
                f"{ln['backend']:<9}{ln['path']:<9}{ln['scenario']:<9}{ln['records']:>9}  error: {ln['error'][:80]}"
            )
            continue
        target = ""
        if "target_records_per_s" in ln:
            target = f"≥{ln['target_records_per_s'] / 1000:.0f}k {'ok' if ln['meets_target'] else 'MISS'}"
        srv = ln.get("server_cpu_us_per_record")
        rows.append(
            f"{ln['backend']:<9}{ln['path']:<9}{ln['scenario']:<9}{ln['records']:>9}{ln['records_per_s']:>9.0f}"
            f"{ln['us_per_record']:>8.1f}{ln['cpu_us_per_record']:>8.1f}{'' if srv is None else f'{srv:.1f}':>8}"
            f"{ln.get('engine_vs_baseline', ''):>7}{ln.get('engine_vs_dlt', ''):>7}{ln['peak_rss_mb']:>8.0f}"
            f"{ln['db_size_mb']:>8.1f}{ln.get('api_calls_per_message', ''):>10}  {target}"
        )
    return "\n".join(rows)


def real_pacing(args: argparse.Namespace) -> int:
    if args.path != "e2e" or args.e2e_transport != "http":
        raise SystemExit("--pacing real needs --path e2e --e2e-transport http")
    from bench import pacing_real

    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    workspaces = {"unthrottled": args.workspace, "tier3": args.tier3_workspace}
    return pacing_real.main(profiles, workspaces, args.json, args.timeout)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.pacing == "real":
        return real_pacing(args)
    sizes = [int(x.replace("_", "")) for x in args.records.split(",")]
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    paths = plan_paths(args)
    if "dlt" in paths:
        from bench import peer_dlt

        why = peer_dlt.available()
        if why:
            print(f"dlt peer skipped: {why}", file=sys.stderr)
            paths.remove("dlt")
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    lines: list[dict[str, Any]] = []
    for records in sizes:
        for backend in backends:
            for path in paths:
                runs: dict[str, list[dict[str, Any]]] = {s: [] for s in scenarios}
                for _ in range(max(args.repeat, 1)):
                    for scenario, result in run_sequence(
                        args, backend, path, records, scenarios, workdir
                    ).items():
                        runs[scenario].append(result)
                for scenario in scenarios:
                    if runs[scenario]:
                        lines.append(line(backend, path, scenario, records, best(runs[scenario])))
    compare(lines)
    checks = rss_flatness(lines)
    output = [json.dumps(ln, ensure_ascii=False) for ln in [*lines, *checks]]
    print("\n".join(output))
    if args.json:
        Path(args.json).write_text("\n".join(output) + "\n")
    print("\n" + table(lines), file=sys.stderr)
    for check in checks:
        print(
            f"peak RSS {check['backend']}/{check['path']}/{check['scenario']}: {check['peak_rss_mb'][0]:.0f} MB at "
            f"{check['records'][0]} → {check['peak_rss_mb'][1]:.0f} MB at {check['records'][1]} "
            f"({check['growth']:+.0%}, {'flat' if check['flat'] else 'NOT flat'})",
            file=sys.stderr,
        )
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
