"""Render `python -m bench --json` output as the Markdown table of bench/README.md.

python -m bench.report results-100k.jsonl [results-1m.jsonl …]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ORDER = {"engine": 0, "baseline": 1, "dlt": 2, "e2e": 3}
SCENARIO = {"initial": 0, "nochange": 1, "churn": 2}


def load(paths: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    lines, checks = [], []
    for path in paths:
        for raw in Path(path).read_text().splitlines():
            if raw.strip():
                item = json.loads(raw)
                (checks if "check" in item else lines).append(item)
    return lines, checks


def markdown(lines: list[dict[str, Any]]) -> str:
    head = (
        "| backend | path | scenario | records | records/s | µs/record | client CPU µs/rec | server CPU µs/rec "
        "| engine ÷ baseline | engine ÷ dlt | peak RSS MB | DB MB | API calls/msg | target |"
    )
    rows = [head, "|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|"]
    ordered = sorted(
        lines,
        key=lambda x: (
            x["records_requested"],
            x["backend"] != "sqlite",
            ORDER[x["path"]],
            SCENARIO[x["scenario"]],
        ),
    )
    for ln in ordered:
        if "error" in ln:
            rows.append(
                f"| {ln['backend']} | {ln['path']} | {ln['scenario']} | {ln['records']:,} | error: {ln['error']} |"
                + " |" * 10
            )
            continue
        target = ""
        if "target_records_per_s" in ln:
            target = f"≥ {ln['target_records_per_s'] / 1000:.0f}k: {'met' if ln['meets_target'] else 'missed'}"
        server = ln.get("server_cpu_us_per_record")
        rows.append(
            f"| {ln['backend']} | {ln['path']} | {ln['scenario']} | {ln['records']:,} | {ln['records_per_s']:,.0f} "
            f"| {ln['us_per_record']:.1f} | {ln['cpu_us_per_record']:.1f} | {'' if server is None else f'{server:.1f}'} "
            f"| {ln.get('engine_vs_baseline', '')} | {ln.get('engine_vs_dlt', '')} | {ln['peak_rss_mb']:.0f} "
            f"| {ln['db_size_mb']:.0f} | {ln.get('api_calls_per_message', '')} | {target} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    lines, checks = load(argv if argv is not None else sys.argv[1:])
    print(markdown(lines))
    for c in checks:
        print(
            f"\nPeak RSS {c['backend']}/{c['path']}/{c['scenario']}: {c['peak_rss_mb'][0]:.0f} MB at "
            f"{c['records'][0]:,} → {c['peak_rss_mb'][1]:.0f} MB at {c['records'][1]:,} ({c['growth']:+.0%})."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
