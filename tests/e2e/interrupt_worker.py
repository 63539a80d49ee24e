"""`pipeline run testing-slow` through the real CLI, for the Ctrl-C test: a stream whose pages
each take PAGE_DELAY_S of real time (6 pages × 3 records).

    python tests/e2e/interrupt_worker.py PAGE_DELAY_S pipeline-args…

The database must be migrated and have the `testing_items` table.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pipeline.cli import main
from pipeline.registry import Stream, register
from pipeline.testing import TESTING_STREAM
from tests.e2e.slow_worker import PAGES, SlowSource


def slow_source(delay_s: float) -> SlowSource:
    source = SlowSource(PAGES, name="interrupt")
    source.delay_s = delay_s
    return source


if __name__ == "__main__":
    delay = float(sys.argv[1])
    register(
        Stream(
            connector="testing",
            name="slow",
            entity="item",
            table=TESTING_STREAM.table,
            model=TESTING_STREAM.model,
            open_source=lambda ctx: slow_source(delay),
        )
    )
    sys.exit(main(sys.argv[2:]))
