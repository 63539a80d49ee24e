"""Cyclic GC paused while a batch is built: one page transaction, one batch of events read.

A page allocates tens of thousands of short-lived containers (records, rows, payloads), almost all
freed by reference counting. Left on, the cyclic collector still scans them and the whole heap
again and again while the page is built: on the engine's first-sync benchmark it cost about 20 µs
of the 45 µs per record spent classifying (`python -m bench.profile --steps`). Paused for the span
of one batch, any cycle made meanwhile is collected right after.

Threads share the collector, so pauses nest by count: the first to enter disables it (only when it
was enabled), the last to leave enables it again. Busy threads may overlap for long (a scheduler
with several workers), so a pause that has lasted `MAX_PAUSE_S` runs one full collection when a
block leaves: cyclic garbage never piles up for longer than that.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MAX_PAUSE_S = 5.0


class Pause:
    """The shared pause: how many blocks are inside it, and whether the collector was on before."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_pause_s: float = MAX_PAUSE_S
    ) -> None:
        self.clock, self.max_pause_s = clock, max_pause_s
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False
        self.collected_at = 0.0

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.was_enabled = gc.isenabled()
                self.collected_at = self.clock()
                gc.disable()
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if not self.was_enabled:
                return
            if self.depth == 0:
                gc.enable()
            elif self.clock() - self.collected_at >= self.max_pause_s:
                gc.collect()  # other blocks keep the pause going: collect what it held back
                self.collected_at = self.clock()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No cyclic garbage collection inside the block (nests across threads)."""
        self.enter()
        try:
            yield
        finally:
            self.leave()


_PAUSE = Pause()
gc_paused = _PAUSE.paused
