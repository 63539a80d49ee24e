"""Cyclic GC paused while a batch is built: one page transaction, one batch of events read.

A page allocates tens of thousands of short-lived containers (records, rows, payloads), almost all
freed by reference counting. Left on, the cyclic collector still scans them and the whole heap
again and again while the page is built: on the engine's first-sync benchmark it cost about 20 µs
of the 45 µs per record spent classifying (`python -m bench.profile --steps`). Paused for the span
of one batch, any cycle made meanwhile is collected right after.

Threads share the collector, so pauses nest by count: the first to enter disables it (only when it
was enabled), the last to leave enables it again.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    """The shared pause: how many blocks are inside it, and whether the collector was on before."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.was_enabled = gc.isenabled()
                gc.disable()
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.was_enabled:
                gc.enable()


_PAUSE = _Pause()


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (nests across threads)."""
    _PAUSE.enter()
    try:
        yield
    finally:
        _PAUSE.leave()
