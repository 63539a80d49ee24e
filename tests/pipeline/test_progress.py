"""The `pipeline run` progress display: plain lines off a terminal, a live line with a countdown on one."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

from pipeline.http.client import CURRENT_CALL
from pipeline.ledger import Run
from pipeline.progress import Reporter


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run_with(**counts: int) -> Run:
    run = Run("sub", "acme", datetime(2026, 1, 1, tzinfo=UTC))
    run.counts.update(counts)
    return run


def test_plain_lines_show_the_run_row_counters_elapsed_and_rate() -> None:
    out, ticks = io.StringIO(), Ticks()
    reporter = Reporter("slack-messages", out, live=False, monotonic=ticks)
    ticks.now += 4

    reporter.on_page(
        run_with(pages=2, records_found=100, created=3, updated=1, api_calls=7, rate_limited=2)
    )

    assert out.getvalue() == (
        "slack-messages: page 2 · 100 records · 4.0s · 25 records/s · +3 ~1 -0 · "
        "7 API calls · 2 rate-limited\n"
    )


def test_a_long_wait_is_one_plain_line_naming_vendor_and_method() -> None:
    out = io.StringIO()
    reporter = Reporter("slack-messages", out, live=False)
    CURRENT_CALL.set("conversations.history")

    reporter.on_wait(1.2, "rate_budget")  # short budget waits stay quiet
    reporter.on_wait(14, "retry_after")

    assert out.getvalue() == (
        "slack-messages: waiting 14.0s for slack conversations.history (rate limited, Retry-After)\n"
    )


def test_the_live_line_counts_down_a_wait_and_prints_warnings_above_it() -> None:
    out, ticks = io.StringIO(), Ticks()
    CURRENT_CALL.set("conversations.replies")
    root = logging.getLogger()
    handler = logging.StreamHandler(out)
    root.addHandler(handler)
    try:
        with Reporter("slack-messages", out, live=True, monotonic=ticks) as reporter:
            reporter.on_wait(14, "retry_after")
            ticks.now += 10
            countdown = reporter.countdown()
            logging.getLogger("pipeline.run").warning("channel C1: access lost")
    finally:
        root.removeHandler(handler)

    assert countdown == "waiting 4s for slack conversations.replies (rate limited, Retry-After)"
    assert "channel C1: access lost\n" in out.getvalue()
    assert "\x1b[" in out.getvalue()  # drawn and erased in place
