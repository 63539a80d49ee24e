"""Running the Linear sandbox: in-process (`Sandbox.transport()`) or over real HTTP on 127.0.0.1.

`Sandbox` bundles a seeded store, faults, rate limits and the WSGI app, on one fake clock shared
with the client (`in_process_settings`), so a client waiting for a rate-limit reset advances the
same time the sandbox refills its budgets by: nothing sleeps. `serve` is `pipeline sandbox linear`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from pipeline.testing import FakeClock, SandboxTransport, make_server
from pipeline.testing import start_in_thread as serve_in_thread

from .app import OAUTH_TOKEN, TOKEN, SandboxApp
from .control import snapshot
from .faults import Faults
from .limits import RateLimits
from .resolvers import issue_record
from .seed import bulk_seed, churn, seed_store
from .store import DEFAULT_NOW, SandboxClock
from .webhooks import WebhookSender

IN_PROCESS_URL = "http://linear.sandbox/graphql"


class Sandbox:
    """A Linear workspace you can query and change.

    sandbox = Sandbox(seed=1)                 # 3 teams, 60 issues, on its own FakeClock
    sandbox.archive("ENG-3"); sandbox.advance(3600)
    http = httpx.Client(transport=sandbox.transport())
    http.post(sandbox.base_url, json={"query": "{ viewer { id } }"},
              headers={"Authorization": sandbox.token})
    """

    base_url = IN_PROCESS_URL

    def __init__(
        self,
        seed: int = 1,
        clock: object = None,
        *,
        issues: int = 60,
        token: str = TOKEN,
        limits: RateLimits | None = None,
        archive_bumps_updated_at: bool = False,
        sort: str = "desc",
        max_first: int = 250,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.seed = seed
        self.clock = (
            clock if clock is not None else FakeClock(datetime.fromtimestamp(DEFAULT_NOW, UTC))
        )
        self.token = token
        self.oauth_token = OAUTH_TOKEN
        self.store = seed_store(seed, SandboxClock(self.clock), issues=issues)
        self.store.archive_bumps_updated_at = archive_bumps_updated_at
        self.faults = Faults(seed)
        self.limits = limits or RateLimits()
        self.app = SandboxApp(
            self.store,
            faults=self.faults,
            limits=self.limits,
            token=token,
            max_first=max_first,
            sort=sort,
        )
        self.webhooks = (
            WebhookSender(self.store, webhook_url, webhook_secret) if webhook_url else None
        )

    def transport(self) -> SandboxTransport:
        return SandboxTransport(app=self.app)

    def query(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        """One in-process GraphQL request with the sandbox key (override with `Authorization=`)."""
        with httpx.Client(transport=self.transport()) as http:
            headers = {"Authorization": self.token, **headers}
            return http.post(
                self.base_url, json={"query": query, "variables": variables or {}}, headers=headers
            )

    # control ----------------------------------------------------------------------------------

    def create_issue(self, team: str, title: str, **fields: Any) -> dict[str, Any]:
        """A new issue in `team` (key or id); fields: state, assignee, priority, estimate, …"""
        with self.store.lock:
            return issue_record(self.store, self.store.create_issue(team, title, **fields))

    def update_issue(self, ref: str, **fields: Any) -> dict[str, Any]:
        """Edit an issue (UUID or `ENG-12`): state, assignee, priority, title, estimate, …"""
        with self.store.lock:
            return issue_record(self.store, self.store.update_issue(ref, **fields))

    def archive(self, ref: str) -> dict[str, Any]:
        with self.store.lock:
            return issue_record(self.store, self.store.archive(ref))

    def unarchive(self, ref: str) -> dict[str, Any]:
        with self.store.lock:
            return issue_record(self.store, self.store.unarchive(ref))

    def trash(self, ref: str) -> dict[str, Any]:
        with self.store.lock:
            return issue_record(self.store, self.store.trash(ref))

    def purge(self, ref: str) -> None:
        """Delete for good now (no grace period): the issue vanishes from every query."""
        with self.store.lock:
            self.store.purge(ref)

    def bulk_seed(self, n: int, seed: int = 0) -> list[str]:
        """Add `n` issues (e.g. 10,000 for a benchmark); returns their ids."""
        with self.store.lock:
            return bulk_seed(self.store, n, seed)

    def churn(self, seed: int = 0, **ratios: float) -> dict[str, int]:
        """Seeded churn: edit / archive / trash a share of live issues (edit_ratio, …)."""
        with self.store.lock:
            return churn(self.store, seed, **ratios)

    def advance(self, seconds: float) -> None:
        """Move fake time (the shared clock when there is one): budgets refill, grace runs out."""
        with self.store.lock:
            self.store.clock.advance(seconds)
            self.store.purge_due()

    def set_limits(self, **settings: Any) -> None:
        """requests_per_hour, complexity_per_hour, max_complexity, enabled, status (400 | 429)."""
        self.limits.configure(**settings)

    def invalidate_cursors(self) -> None:
        self.app.cursors.invalidate()

    @property
    def now(self) -> float:
        return self.store.clock.now()

    def issue(self, ref: str) -> dict[str, Any]:
        with self.store.lock:
            return issue_record(self.store, self.store.issue(ref))

    def state(self) -> dict[str, Any]:
        with self.store.lock:
            return snapshot(self.store)

    def metrics(self) -> dict[str, Any]:
        return self.app.metrics.as_dict()

    def requests(self) -> list[dict[str, Any]]:
        return list(self.app.journal)

    @contextmanager
    def serving(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve over real HTTP for the block; yields the GraphQL endpoint URL."""
        url, stop = start_in_thread(self, host=host, port=port)
        try:
            yield url
        finally:
            stop()


def in_process_settings(seed: int = 1) -> dict[str, Any]:
    """Connector settings for a seeded in-process sandbox on a shared FakeClock (`--sandbox`)."""
    sandbox = Sandbox(seed)
    return {
        "transport": sandbox.transport(),
        "api_url": sandbox.base_url,
        "token": sandbox.token,
        "http_clock": sandbox.clock,
    }


def start_in_thread(
    app: SandboxApp | Sandbox, *, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Serve from a background thread → (GraphQL endpoint URL, stop). Port 0 picks a free one."""
    wsgi = app.app if isinstance(app, Sandbox) else app
    return serve_in_thread(wsgi, host=host, port=port, path="/graphql")


def serve(
    port: int,
    seed: int = 1,
    host: str = "127.0.0.1",
    webhook_url: str | None = None,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve a seeded sandbox until interrupted (`pipeline sandbox linear`). Binds first, then
    prints one line with the URL and the key (or hands the URL to `on_ready`, as the CLI does);
    a busy port raises OSError before anything is printed."""
    started = time.time()
    # A served sandbox lives in real time from DEFAULT_NOW on, so its rate budgets refill.
    real_time = SandboxClock(lambda: DEFAULT_NOW + time.time() - started)
    sandbox = Sandbox(seed, real_time, webhook_url=webhook_url)
    if sandbox.webhooks is not None:  # the receiver checks webhookTimestamp against its own time
        sandbox.webhooks.now_ms = lambda: int(time.time() * 1000)
    server = make_server(sandbox.app, host, port)
    url = f"http://{host}:{server.server_address[1]}/graphql"
    if on_ready is not None:
        on_ready(url)
    else:
        hook = f", webhooks to {webhook_url}" if webhook_url else ""
        banner = f"Linear sandbox on {url} (seed {seed}); LINEAR_API_KEY={sandbox.token}{hook}"
        print(banner, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if sandbox.webhooks is not None:
            sandbox.webhooks.close()
