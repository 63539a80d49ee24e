"""The fault library against slack-messages (issue 10): every malformed-but-`ok` answer, on the
first, middle and last page of a history window or a thread, on both databases.

Each cell: zero false tombstones, a visible non-success status for the faulty run, and the
stored messages equal to the workspace after the next clean run. The cells run in-process on a
fake clock (`bench/fault_matrix.py` prints the same matrix as a table).
"""

from __future__ import annotations

import pytest

from bench.fault_matrix import cells, run_cell


@pytest.mark.parametrize(("method", "shape", "position"), cells())
def test_malformed_page_tombstones_nothing_is_visible_and_converges_next_run(
    db_url: str, method: str, shape: str, position: str
) -> None:
    cell = run_cell(db_url, method, shape, position)

    assert cell.false_tombstones == 0
    assert cell.status in ("partial", "failed")
    assert cell.runs_to_converge == 1
