"""Webhook runs that follow a burst (DESIGN §8): wake-ups per subscription, and when a run ends.

A webhook run used to be one batch: claim, lease, run row, page, run end, lease release, claim
release, eight short transactions around one page. In `pipeline serve` a run now follows its
subscription's inbox: it applies what is pending as a page, waits for the next receipt of that
subscription (woken in-process by the receiver's commit, and polling every `poll_s` for receipts
that other `serve` processes commit), and ends once the inbox has been idle for `idle_s` or the run
is `max_s` old. Each page is still one page transaction; the run row counts every page it applied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.webhooks.inbox import InboxKey


class Wakeups:
    """Routes the receiver's "stored" to the run following that subscription, else the dispatcher."""

    def __init__(self) -> None:
        self.dispatch = threading.Event()
        self._following: dict[InboxKey, threading.Event] = {}
        self._lock = threading.Lock()

    def stored(self, key: InboxKey) -> None:
        """Called after a receipt commits: wake whoever applies `key` next."""
        with self._lock:
            self._following.get(key, self.dispatch).set()

    def follow(self, key: InboxKey) -> threading.Event | None:
        """The wake-up of a new run following `key`; None while another run already follows it."""
        with self._lock:
            if key in self._following:
                return None
            event = self._following[key] = threading.Event()
            return event

    def followed(self) -> list[InboxKey]:
        """The subscriptions a run follows now (the dispatcher does not claim them)."""
        with self._lock:
            return list(self._following)

    def unfollow(self, key: InboxKey) -> None:
        """The run ended: receipts of `key` wake the dispatcher again, which looks once more (a
        receipt may have committed after the run's last look)."""
        with self._lock:
            self._following.pop(key, None)
        self.dispatch.set()


@dataclass
class Follow:
    """When a following run looks at its inbox again, and when it ends."""

    wake: threading.Event
    stop: threading.Event
    idle_s: float = 0.5
    poll_s: float = 0.05
    max_s: float = 10.0
    monotonic: Callable[[], float] = time.monotonic
    wait: Callable[[float], object] | None = None
    """Waits up to the given seconds for `wake` (default `wake.wait`; tests advance a clock)."""
    started: float = field(init=False)
    last: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.last = self.monotonic()

    def worked(self) -> None:
        """A page was applied: the idle time counts from now."""
        self.last = self.monotonic()

    def aged(self) -> bool:
        """The run is `max_s` old (or serve is stopping): end it, the next run takes over."""
        return self.stop.is_set() or self.monotonic() - self.started >= self.max_s

    def more(self) -> bool:
        """After an empty look: wait for a receipt (or the poll tick) and say whether to look
        again; False ends the run (stopping, `max_s` old, or idle for `idle_s`)."""
        if self.aged() or self.monotonic() - self.last >= self.idle_s:
            return False
        (self.wait or self.wake.wait)(self.poll_s)
        self.wake.clear()  # a receipt after this is seen by the next look (it committed first)
        return True
