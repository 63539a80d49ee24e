"""Peer: the same job through dlt (dlthub), merging on the primary key into the same kind of database.

The resource yields the scenario's records page by page (1000 per page, the same bytes as the other
paths), keyed `id = "<channel>:<ts>"`, with `write_disposition="merge"` on that primary key;
a deleted message is a row `{"id": key, "_deleted": True}` on a `hard_delete` column. Nested fields
(blocks, reactions, files, edited) stay JSON columns (`max_table_nesting=0`), the closest dlt gets
to our one-row-per-message table. Destinations: SQLite through dlt's `sqlalchemy` destination
(merge = delete-insert, the only merge it has there), PostgreSQL through the `postgres` destination
(merge strategy `upsert`). dlt keeps no content hash, diff, run items or events: it does less work.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.data import Timed, scenario_ops
from bench.measure import Stopwatch

DATASET = "bench_dlt"
PIPELINE = "bench_dlt"


def available() -> str | None:
    """None if dlt can run here, else why not."""
    try:
        import dlt  # noqa: F401
    except Exception as exc:  # noqa: BLE001  (ImportError, or a broken install)
        return f"dlt is not installed ({type(exc).__name__}: {exc}); pip install -e '.[bench]'"
    return None


def _environment(workdir: Path) -> None:
    os.environ.setdefault(
        "RUNTIME__DLTHUB_TELEMETRY", "false"
    )  # no network calls from the benchmark
    os.environ.setdefault("DLT_DATA_DIR", str(workdir / "dlt-data"))
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")


def _destination(url: str, workdir: Path) -> Any:
    import dlt

    if url.startswith("sqlite"):
        # a primary key (hence an index on `id`): without it dlt's delete-insert merge scans the
        # whole table for each staged row, and a re-sync of 20k records already takes minutes
        return dlt.destinations.sqlalchemy(credentials=url, create_primary_keys=True)
    u = make_url(url)
    # dlt insists on a password; a trust-authenticated local server ignores it
    password = u.password or "unused"
    credentials = f"postgresql://{u.username}:{password}@{u.host}:{u.port or 5432}/{u.database}"
    return dlt.destinations.postgres(credentials=credentials)


def timed_run(
    resource: Any, url: str, workdir: Path, name: str = PIPELINE, dataset: str = DATASET
) -> Stopwatch:
    """`dlt.pipeline(...).run(resource)` into `url`, timed; a failed load job raises."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=_destination(url, workdir),
        dataset_name=dataset,
        pipelines_dir=str(workdir / "dlt-pipelines"),
        progress=None,
    )
    watch = Stopwatch().start()
    info = pipeline.run(resource)
    watch.stop()
    info.raise_on_failed_jobs()
    return watch


def run(
    url: str, scenario: str, records: int, seed: int = 0, workdir: Path | None = None
) -> dict[str, Any]:
    workdir = workdir or Path.cwd()
    _environment(workdir)
    import dlt

    pages = Timed(scenario_ops(scenario, records, seed))
    counts = {"upserts": 0, "deletes": 0}

    def messages() -> Iterator[list[dict[str, Any]]]:
        for ops in pages:
            batch = []
            for op in ops:
                if op.record is None:
                    counts["deletes"] += 1
                    batch.append({"id": op.key, "_deleted": True})
                else:
                    counts["upserts"] += 1
                    batch.append({"id": op.key, **op.record})
            yield batch

    strategy = "delete-insert" if url.startswith("sqlite") else "upsert"
    resource = dlt.resource(
        messages,
        name="slack_messages",
        primary_key="id",
        write_disposition={"disposition": "merge", "strategy": strategy},
        columns={"_deleted": {"data_type": "bool", "hard_delete": True, "nullable": True}},
        max_table_nesting=0,
    )
    watch = timed_run(resource, url, workdir)
    return {
        "seconds": watch.wall - pages.seconds,
        "cpu_seconds": watch.cpu - pages.cpu_seconds,
        "server_cpu_seconds": None,
        "wall_seconds": watch.wall,
        "generate_seconds": pages.seconds,
        "counts": counts,
        "strategy": strategy,
        "dlt_version": dlt.__version__,
    }


def size_files(url: str) -> list[str]:
    """The files dlt's SQLite destination writes (the dataset is an attached database file)."""
    if not url.startswith("sqlite"):
        return []
    main = Path(make_url(url).database or "")
    return [str(p) for p in main.parent.glob(f"{main.stem}*") if p.is_file()]
