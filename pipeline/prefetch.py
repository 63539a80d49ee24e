"""Overlap fetch and commit: page N+1 is fetched by one background thread while page N commits.

The run's walk asks for the next page just before it applies the current one, so at most two pages
are in memory (the one committing and the one being fetched) and memory stays flat in the number of
pages. The vendor calls happen on the fetch thread, never inside the page transaction's own code;
the transaction never waits on them. What the walk sees is what it saw without the thread: the same
pages in the same order, and a fetch error is raised by `next()`, after the pages before it
committed, exactly where the plain loop would have raised it.

A page is fetched ahead only when the walk asks (`ahead()`): a page whose sweep confirms absences
with vendor calls (`Sweep.confirm`, called inside the transaction) is applied with no fetch in
flight, so one source never has two vendor calls running at once.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.changes import Page

_END = object()


class Prefetcher:
    """`next()` gives the pages of `pages` in order; `ahead()` starts fetching the one after."""

    def __init__(self, pages: Iterator[Page], guard: Callable[[], None] | None = None) -> None:
        self._pages = pages
        self._guard = guard or _no_guard
        self._wanted = threading.Semaphore(0)
        self._ready = threading.Semaphore(0)
        self._result: tuple[Any, BaseException | None] = (None, None)
        self._requested = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="pipeline-prefetch", daemon=True)
        self._thread.start()

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> Page:
        """The next page (fetched now, or by the request `ahead()` made); errors are raised here.

        A page fetched before the lease was found lost is not handed over: the guard raises as the
        source's next vendor call would have.
        """
        self.ahead()
        self._ready.acquire()
        self._requested = False
        page, error = self._result
        self._result = (None, None)
        if error is not None:
            raise error
        if page is _END:
            raise StopIteration
        self._guard()
        return page  # type: ignore[no-any-return]

    def ahead(self) -> None:
        """Start fetching the next page in the background (once per page)."""
        if not self._requested and not self._closed:
            self._guard()
            self._requested = True
            self._wanted.release()

    def close(self, wait: bool = True) -> None:
        """Stop the thread after the fetch in flight (if any) and close the source's generator.

        `wait=False` (Ctrl-C) leaves a fetch in flight to finish on its daemon thread, unapplied.
        """
        if self._closed:
            return
        self._closed = True
        self._wanted.release()
        if not wait and self._thread.is_alive() and self._requested:
            return
        self._thread.join()
        close = getattr(self._pages, "close", None)
        if close is not None:
            close()  # the generator's `finally` runs here, on the walk's thread

    def _work(self) -> None:
        while True:
            self._wanted.acquire()
            if self._closed:
                return
            try:
                self._result = (frozen(next(self._pages)), None)
            except StopIteration:
                self._result = (_END, None)
            except BaseException as exc:  # noqa: BLE001 (re-raised on the walk's thread)
                self._result = (None, exc)
            self._ready.release()


def _no_guard() -> None:
    pass


def frozen(page: Page) -> Page:
    """The page with a private copy of its checkpoint: the source resumes (fetching the next page)
    while this one commits, and must not move the checkpoint this page stores."""
    if isinstance(page.checkpoint, dict):
        return dataclasses.replace(page, checkpoint=copy.deepcopy(page.checkpoint))
    return page


def fetches_inside(page: Page) -> bool:
    """True when applying the page calls the vendor (a sweep that confirms absences)."""
    return any(sweep.confirm is not None for sweep in page.sweeps)
