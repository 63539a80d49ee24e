"""A graceful stop for `pipeline run` (DESIGN §9): the first Ctrl-C (or SIGTERM) asks the run to
stop after its current page; a second Ctrl-C stops it at once (the page in flight rolls back).
Either way the run ends `stopped` and the next run resumes from its last committed page.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any, TextIO

ASKED = "stopping after the current page (Ctrl-C again to stop now)"


class GracefulStop:
    """Context manager: while active, SIGINT/SIGTERM set `is_set()`; a second SIGINT interrupts."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self._asked = threading.Event()
        self._previous: dict[int, Any] = {}

    def is_set(self) -> bool:
        return self._asked.is_set()

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():  # signals reach only main
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._asked.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self._asked.set()
        print(ASKED, file=self.out, flush=True)
