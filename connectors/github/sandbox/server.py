"""Running the sandbox: in-process (`Sandbox.transport()`) or over real HTTP on 127.0.0.1.

`Sandbox` bundles a seeded world, its faults, limits and WSGI app, plus Python methods for every
control operation. Fast tests hand `sandbox.transport()` to the connector; wire tests and
`pipeline sandbox github` use `serve` / `start_in_thread` (wsgiref + threads).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from pipeline.testing import FakeClock, SandboxTransport, make_server
from pipeline.testing import start_in_thread as serve_in_thread

from .app import TOKEN, SandboxApp
from .clock import DEFAULT_NOW, ClockLike, SandboxClock
from .faults import Fault, Faults
from .limits import Limits
from .seed import DEFAULT_REPOS, bulk_seed, seed_world
from .snapshot import snapshot
from .webhooks import WebhookSender, attach
from .world import Comment, Issue

IN_PROCESS_URL = "http://github.sandbox"
DEFAULT_SEED = 1
"""`--sandbox` and `pipeline sandbox github` serve the same repos unless told otherwise."""


class Sandbox:
    """A GitHub you can call: a seeded world + faults + limits + app (+ a real server).

    sandbox = Sandbox(seed=7, clock=fake_clock)            # shares the client's FakeClock
    with sandbox.client() as http:
        http.get("/repos/octo-org/widgets/issues", params={"state": "all"})
    sandbox.delete_issue("octo-org/widgets", 3)             # now 410, gone from listings
    """

    base_url = IN_PROCESS_URL

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        clock: ClockLike | SandboxClock | None = None,
        *,
        token: str = TOKEN,
        repos: tuple[str, ...] = DEFAULT_REPOS,
        issues_per_repo: int = 40,
        max_comments: int = 4,
    ) -> None:
        self.seed = seed
        self.token = token
        self.clock = clock if isinstance(clock, SandboxClock) else SandboxClock(clock)
        self.world = seed_world(
            seed,
            clock=self.clock,
            repos=repos,
            issues_per_repo=issues_per_repo,
            max_comments=max_comments,
        )
        self.faults = Faults(seed)
        self.limits = Limits()
        self.app = SandboxApp(self.world, faults=self.faults, limits=self.limits, token=token)

    # -- wiring ------------------------------------------------------------------------------

    def transport(self) -> SandboxTransport:
        return SandboxTransport(app=self.app)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx.Client on the in-process transport, authenticated with the sandbox token."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.Client(
            base_url=self.base_url, transport=self.transport(), headers=headers, **kwargs
        )

    @property
    def http_clock(self) -> FakeClock | None:
        """The `FakeClock` the sandbox runs on (hand it to the client as `http_clock`)."""
        return self.clock.fake

    @contextmanager
    def serving(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve over real HTTP for the block; yields the API root URL."""
        url, stop = start_in_thread(self, host=host, port=port)
        try:
            yield url
        finally:
            stop()

    # -- time, limits, faults ----------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def set_limits(self, *, link_last: bool | None = None, **settings: Any) -> None:
        """E.g. `primary_limit=10, primary_status=429, secondary_retry_after=False`."""
        if link_last is not None:
            self.app.with_last = link_last
        self.limits.settings.update(**settings)

    def fault(self, kind: str, **options: Any) -> Fault:
        return self.faults.add(kind, **options)

    def send_webhooks(self, url: str, **options: Any) -> WebhookSender:
        """POST a signed `issues` / `issue_comment` delivery to `url` for every later change."""
        return attach(self, url, **options)

    # -- mutations (also at POST /_sandbox/<op>) ---------------------------------------------

    def create_issue(self, repo: str, title: str, **fields: Any) -> Issue:
        return self.world.create_issue(repo, title, **fields)

    def edit_issue(
        self, repo: str, number: int, *, title: str | None = None, body: str | None = None
    ) -> Issue:
        return self.world.edit_issue(repo, number, title=title, body=body)

    def add_label(self, repo: str, number: int, label: str) -> Issue:
        return self.world.label(repo, number, label)

    def remove_label(self, repo: str, number: int, label: str) -> Issue:
        return self.world.label(repo, number, label, add=False)

    def assign(self, repo: str, number: int, login: str, *, add: bool = True) -> Issue:
        return self.world.assign(repo, number, login, add=add)

    def close(self, repo: str, number: int, reason: str = "completed") -> Issue:
        return self.world.close(repo, number, reason)

    def reopen(self, repo: str, number: int) -> Issue:
        return self.world.reopen(repo, number)

    def merge(self, repo: str, number: int) -> Issue:
        return self.world.merge(repo, number)

    def delete_issue(self, repo: str, number: int) -> Issue:
        return self.world.delete_issue(repo, number)

    def transfer_issue(self, repo: str, number: int, to: str) -> Issue:
        return self.world.transfer_issue(repo, number, to)

    def add_comment(self, repo: str, number: int, body: str, **fields: Any) -> Comment:
        return self.world.add_comment(repo, number, body, **fields)

    def edit_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        return self.world.edit_comment(repo, comment_id, body)

    def delete_comment(self, repo: str, comment_id: int) -> Comment:
        return self.world.delete_comment(repo, comment_id)

    def bulk_seed(self, repo: str, count: int, *, max_comments: int = 0) -> int:
        """Add `count` seeded issues to `repo` (created if missing): the 10⁴-issue bench."""
        return bulk_seed(self.world, repo, count, max_comments=max_comments)

    # -- reading -----------------------------------------------------------------------------

    def issue(self, repo: str, number: int) -> Issue:
        return self.world.repo(repo).issue(number)

    def issues(self, repo: str) -> list[Issue]:
        return sorted(self.world.repo(repo).issues.values(), key=lambda i: i.number)

    def comments(self, repo: str) -> list[Comment]:
        return sorted(self.world.repo(repo).comments.values(), key=lambda c: c.id)

    @property
    def calls(self) -> Counter[str]:
        """Requests received per route (`list_issues`, `get_issue`, …), whatever the outcome."""
        return self.app.calls

    @property
    def journal(self) -> list[dict[str, Any]]:
        return list(self.app.journal)

    def metrics(self) -> dict[str, Any]:
        return self.app.metrics.as_dict()

    def state(self) -> dict[str, Any]:
        return snapshot(self.world)


def in_process_settings(seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Settings pointing a connector at a seeded in-process sandbox on a shared `FakeClock`."""
    clock = FakeClock(datetime.fromtimestamp(DEFAULT_NOW, UTC))
    sandbox = Sandbox(seed, clock)
    return {
        "transport": sandbox.transport(),
        "api_url": sandbox.base_url,
        "token": sandbox.token,
        "http_clock": clock,
    }


def start_in_thread(
    app: SandboxApp | Sandbox, *, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Serve `app` from a background thread; returns (API root URL, stop). Port 0: a free one."""
    wsgi = app.app if isinstance(app, Sandbox) else app
    return serve_in_thread(wsgi, host=host, port=port)


def serve(
    port: int,
    seed: int = DEFAULT_SEED,
    host: str = "127.0.0.1",
    webhook_url: str | None = None,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve a seeded sandbox until interrupted (`pipeline sandbox github --port N`).

    Binds first, then announces itself: `on_ready(url)` when given, else one printed line with
    the URL and the token. A served sandbox lives in real time (from 2026-01-01 on), so its rate
    windows refill by themselves. A busy port raises OSError before anything is printed.
    With `webhook_url`, every change made through the control plane is delivered there, signed.
    """
    sandbox = Sandbox(seed, SandboxClock.real_time())
    server = make_server(sandbox.app, host, port)
    root = f"http://{host}:{server.server_address[1]}"
    if webhook_url:
        attach(sandbox, webhook_url, root=root)
    try:
        if on_ready is not None:
            on_ready(root)
        else:
            hooks = f"; webhooks to {webhook_url}" if webhook_url else ""
            print(
                f"GitHub sandbox on {root} (seed {seed}); token {sandbox.token}{hooks}", flush=True
            )
        server.serve_forever()
    finally:
        server.server_close()
