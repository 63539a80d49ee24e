"""Profile one engine-path run with pyinstrument: `python -m bench.profile [--backend B] [--scenario S]`.

    python -m bench.profile --backend sqlite --scenario initial --records 30000 > profile.txt

The scenarios before the profiled one run first, unprofiled, into a fresh database (as in
`python -m bench`). The page-building time shows up under `Timed.__iter__`: it is not the engine's.
Add `--steps` for the time per page-transaction step instead (from the orchestrator's step hook).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import tempfile
import time
from pathlib import Path

from bench import databases, engine_path
from bench.data import SCENARIOS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--scenario", choices=SCENARIOS, default="initial")
    p.add_argument("--records", type=int, default=30_000)
    p.add_argument(
        "--steps", action="store_true", help="time per step instead of a pyinstrument profile"
    )
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    try:
        return profile(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def profile(args: argparse.Namespace, workdir: Path) -> int:
    url = (
        databases.pg_url()
        if args.backend == "postgres"
        else databases.sqlite_url(workdir, "profile")
    )
    databases.reset(url)
    engine_path.prepare(url)
    for before in SCENARIOS[: SCENARIOS.index(args.scenario)]:
        engine_path.run(url, before, args.records)
    if args.steps:
        print(steps(url, args.scenario, args.records))
        return 0
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    result = engine_path.run(url, args.scenario, args.records)
    profiler.stop()
    print(
        f"{args.backend} {args.scenario}: {args.records / result['seconds']:.0f} records/s "
        f"(page building excluded: {result['generate_seconds']:.1f} s)"
    )
    print(profiler.output_text(unicode=True, color=False))
    return 0


def steps(url: str, scenario: str, records: int) -> str:
    """µs per record spent between consecutive step hooks of the page transaction (wall and CPU)."""
    from pipeline.orchestrator import Orchestrator, RunOptions

    wall: collections.Counter[str] = collections.Counter()
    cpu: collections.Counter[str] = collections.Counter()
    last = [0.0, 0.0]

    def on_step(name: str, _page: int) -> None:
        now = (time.perf_counter(), time.process_time())
        if name != "fetched":
            wall[name] += now[0] - last[0]
            cpu[name] += now[1] - last[1]
        last[0], last[1] = now

    run = Orchestrator.run

    def with_steps(self, stream, sub, source=None, options=None):  # type: ignore[no-untyped-def]
        return run(self, stream, sub, source, RunOptions(on_step=on_step))

    Orchestrator.run = with_steps  # type: ignore[method-assign]
    try:
        result = engine_path.run(url, scenario, records)
    finally:
        Orchestrator.run = run  # type: ignore[method-assign]
    lines = [
        f"{scenario}: {records / result['seconds']:.0f} records/s, {result['cpu_seconds'] / records * 1e6:.1f} µs CPU "
        f"per record",
        f"{'step':<20}{'wall µs/rec':>12}{'cpu µs/rec':>12}",
    ]
    lines += [
        f"{name:<20}{wall[name] / records * 1e6:>12.1f}{cpu[name] / records * 1e6:>12.1f}"
        for name in wall
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
