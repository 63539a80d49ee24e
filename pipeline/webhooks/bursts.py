"""Webhook runs that follow a burst (DESIGN §8): wake-ups per subscription, and when a run ends.

A webhook run used to be one batch: claim, lease, run row, page, run end, lease release, claim
release, eight short transactions around one page. In `pipeline serve` a run now follows its
subscription's inbox: it applies what is pending as a page, waits for the next receipt of that
subscription (woken in-process by the receiver's commit, and polling every `poll_s` for receipts
that other `serve` processes commit), and ends once the inbox has been idle for `idle_s`, the run
is `max_s` old, or a poll of the subscription is due. Each page is still one page transaction; the
run row counts every page it applied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.webhooks.inbox import InboxKey


class Wakeups:
    """Routes the receiver's "stored" to the run following that subscription, else the dispatcher."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.dispatch = threading.Event()
        self.monotonic = monotonic
        self._following: dict[InboxKey, threading.Event] = {}
        self._held: dict[InboxKey, float] = {}  # passed over until then (`unfollow`)
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
        """The subscriptions a run follows now, or held off (the dispatcher passes over them)."""
        now = self.monotonic()
        with self._lock:
            self._held = {k: until for k, until in self._held.items() if until > now}
            return [*self._following, *self._held]

    def unfollow(self, key: InboxKey, hold_s: float = 0.0) -> None:
        """The run ended: receipts of `key` wake the dispatcher again, which looks once more (a
        receipt may have committed after the run's last look); with `hold_s`, not before then
        (the run left the lease to a due poll, found it busy, or failed)."""
        with self._lock:
            self._following.pop(key, None)
            if hold_s > 0:
                self._held[key] = self.monotonic() + hold_s
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
    poll_due: Callable[[], bool] | None = None
    """Whether a poll of the subscription is due; asked every `due_every_s`. `pipeline schedule`
    never claims a leased subscription, so a run that follows a steady stream of deliveries ends
    when a poll is due and leaves it the lease (`yielded`)."""
    due_every_s: float = 1.0
    started: float = field(init=False)
    last: float = field(init=False)
    asked: float = field(init=False)
    yielded: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.started = self.last = self.asked = self.monotonic()

    def worked(self) -> None:
        """A page was applied: the idle time counts from now."""
        self.last = self.monotonic()

    def aged(self) -> bool:
        """The run is `max_s` old, a poll is due, or serve is stopping: end it."""
        return self.stop.is_set() or self.monotonic() - self.started >= self.max_s or self.due()

    def due(self) -> bool:
        """Whether a poll is due (asked every `due_every_s`; once due, the run has yielded)."""
        now = self.monotonic()
        if self.poll_due is not None and not self.yielded and now - self.asked >= self.due_every_s:
            self.asked, self.yielded = now, self.poll_due()
        return self.yielded

    def more(self) -> bool:
        """After an empty look: wait for a receipt (or the poll tick) and say whether to look
        again; False ends the run (stopping, `max_s` old, or idle for `idle_s`)."""
        if self.aged() or self.monotonic() - self.last >= self.idle_s:
            return False
        (self.wait or self.wake.wait)(self.poll_s)
        self.wake.clear()  # a receipt after this is seen by the next look (it committed first)
        return True
