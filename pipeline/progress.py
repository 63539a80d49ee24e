"""What `pipeline run` prints: a live progress line on a terminal, plain log lines otherwise,
and a final summary (DESIGN §5 "Commands")."""

from __future__ import annotations

import sys
from typing import TextIO

from pipeline.ledger import Run


class Reporter:
    """Follows a run page by page and through rate-limit waits."""

    def __init__(self, stream_name: str, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self.stream_name = stream_name
        self.is_tty = self.out.isatty()
        self.waits = 0
        self.waited_s = 0.0

    def on_page(self, run: Run) -> None:
        c = run.counts
        line = (
            f"{self.stream_name}: page {c['pages']} · {c['records_found']} records · "
            f"+{c['created']} ~{c['updated']} -{c['deleted']} · {c['api_calls']} API calls · "
            f"{self.waits} rate-limit waits"
        )
        if self.is_tty:
            self.out.write("\r\x1b[2K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def on_wait(self, seconds: float, reason: str) -> None:
        self.waits += 1
        self.waited_s += seconds
        if not self.is_tty and seconds >= 5:
            self.out.write(f"{self.stream_name}: waiting {seconds:.1f}s ({reason})\n")
            self.out.flush()

    def summary(self, run: Run) -> str:
        c = run.counts
        seconds = (run.duration_ms or 0) / 1000
        if self.is_tty:
            self.out.write("\n")
        return (
            f"{self.stream_name}: {run.status} · created {c['created']} · edited {c['updated']} · "
            f"deleted {c['deleted']} · unchanged {c['noop']} · failed {c['failed']} · "
            f"{c['api_calls']} API calls · {seconds:.2f}s · run {run.id}"
        )
