"""What `pipeline run` shows while it works (DESIGN §5 "Commands").

On a terminal: one live line (rich) with the elapsed time, records/s, pages, created / edited /
deleted, API calls and rate-limited calls, and during a wait a countdown naming the vendor and the
method; log warnings print above it. Otherwise (a pipe, a file, `--json`): one plain, stable line
per committed page, and one per wait of 5 s or more. The counters are the run row's, as committed
with each page (`rate-limited` is the row's `rate_limited`: HTTP 429s, not waits for our own budget).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from pipeline.http.client import CURRENT_CALL
from pipeline.ledger import Run

WAIT_REASONS = {
    "rate_budget": "rate budget",
    "retry_after": "rate limited, Retry-After",
    "backoff": "retrying after an error",
}
PLAIN_WAIT_S = 5.0


class Reporter:
    """Follows a run page by page and through waits; use as a context manager around the run."""

    def __init__(
        self,
        stream_name: str,
        out: TextIO | None = None,
        *,
        live: bool | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out or sys.stderr
        self.stream_name = stream_name
        self.vendor = stream_name.split("-", 1)[0]
        self.is_live = self.out.isatty() if live is None else live
        self.monotonic = monotonic
        self.started = monotonic()
        self.counts: dict[str, int] = {}
        self.wait: tuple[float, str] | None = None  # (until, what)
        self._live: Live | None = None
        self._handlers: list[tuple[logging.StreamHandler[Any], Any]] = []

    def __enter__(self) -> Reporter:
        if self.is_live:
            console = Console(file=self.out, force_terminal=True)
            self._live = Live(self, console=console, refresh_per_second=4, transient=True)
            self._live.start()
            self._route_logs(console)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handler, stream in self._handlers:
            handler.setStream(stream)
        if self._live is not None:
            self._live.stop()

    def __rich__(self) -> Text:
        text = Text(self.line(), no_wrap=True, overflow="ellipsis")
        countdown = self.countdown()
        if countdown:
            text.append("\n" + countdown, style="yellow")
        return text

    def on_page(self, run: Run) -> None:
        self.counts = dict(run.counts)
        self.wait = None
        if not self.is_live:
            self._plain(self.line())

    def on_wait(self, seconds: float, reason: str) -> None:
        what = f"{self.vendor} {CURRENT_CALL.get() or '?'} ({WAIT_REASONS.get(reason, reason)})"
        self.wait = (self.monotonic() + seconds, what)
        if not self.is_live and seconds >= PLAIN_WAIT_S:
            self._plain(f"{self.stream_name}: waiting {seconds:.1f}s for {what}")

    def line(self) -> str:
        """The progress line: the counters of the last committed page, and any wait in progress."""
        c = self.counts
        elapsed = self.monotonic() - self.started
        rate = c.get("records_found", 0) / elapsed if elapsed > 0 else 0.0
        line = (
            f"{self.stream_name}: page {c.get('pages', 0)} · {c.get('records_found', 0)} records · "
            f"{elapsed:.1f}s · {rate:.0f} records/s · +{c.get('created', 0)} ~{c.get('updated', 0)} "
            f"-{c.get('deleted', 0)} · {c.get('api_calls', 0)} API calls · "
            f"{c.get('rate_limited', 0)} rate-limited"
        )
        return line

    def countdown(self) -> str | None:
        """`waiting 14s for acme tickets.list (rate limited, Retry-After)`, while it lasts."""
        if self.wait is None:
            return None
        left = self.wait[0] - self.monotonic()
        return f"waiting {left:.0f}s for {self.wait[1]}" if left > 0 else None

    def summary(self, run: Run) -> str:
        c = run.counts
        seconds = (run.duration_ms or 0) / 1000
        return (
            f"{self.stream_name}: {run.status} · created {c['created']} · edited {c['updated']} · "
            f"deleted {c['deleted']} · unchanged {c['noop']} · failed {c['failed']} · "
            f"{c['api_calls']} API calls · {c['rate_limited']} rate-limited · {seconds:.2f}s · "
            f"run {run.id}"
        )

    def _plain(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _route_logs(self, console: Console) -> None:
        """Log lines (warnings) print above the live line, never glued onto it."""
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (
                sys.stderr,
                sys.__stderr__,
                self.out,
            ):
                self._handlers.append((handler, handler.stream))
                handler.setStream(_ConsoleStream(console))


class _ConsoleStream:
    """A file-like object that prints through the live console (above the live line)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def write(self, text: str) -> int:
        if text.strip():
            self.console.print(text.rstrip("\n"), markup=False, highlight=False)
        return len(text)

    def flush(self) -> None:
        pass
