"""COPY or executemany, per page size, on PostgreSQL: `python -m bench.copy_pages`.

Runs the engine path's first sync at several page sizes, once with every page write through `Copy`
and once through `Batch` (executemany), alternating, into a fresh database each time, and prints
the client and server CPU per record of each (the best of `--repeat`). `COPY_MIN_ROWS` in
`pipeline/batch.py` is the page size from which COPY wins here.
"""

from __future__ import annotations

import argparse

from bench import data, databases, engine_path
from pipeline import batch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.copy_pages")
    p.add_argument("--sizes", default="10,30,100,300,1000")
    p.add_argument("--records", type=int, default=6000)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args(argv)
    url = databases.pg_url()
    print("page size  write        client µs/rec  server µs/rec  wall µs/rec")
    for size in (int(s) for s in args.sizes.split(",")):
        data.PAGE_SIZE = size
        best: dict[str, tuple[float, float, float]] = {}
        for _ in range(args.repeat):
            for name, threshold in (("copy", 1), ("executemany", 10**9)):
                batch.COPY_MIN_ROWS = threshold
                databases.reset(url)
                engine_path.prepare(url)
                result = engine_path.run(url, "initial", args.records)
                n = result["counts"]["created"]
                figures = (
                    1e6 * result["cpu_seconds"] / n,
                    1e6 * (result["server_cpu_seconds"] or 0.0) / n,
                    1e6 * result["seconds"] / n,
                )
                if name not in best or sum(figures[:2]) < sum(best[name][:2]):
                    best[name] = figures
        for name, (client, server, wall) in best.items():
            print(f"{size:>9}  {name:<11}  {client:13.1f}  {server:13.1f}  {wall:11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
