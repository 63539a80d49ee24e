"""Running the sandbox: in-process (`Sandbox.transport()`) or over real HTTP on 127.0.0.1.

`Sandbox` bundles a seeded workspace, its faults, rate limiter and WSGI app. Fast tests hand
`sandbox.client()` (an httpx.Client on an in-process transport) to the connector; wire tests and
`pipeline sandbox slack` use `serve` / `start_in_thread` (wsgiref + ThreadingMixIn).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from pipeline import ConfigError
from pipeline.testing import SandboxTransport, make_server
from pipeline.testing import start_in_thread as serve_in_thread

from .app import TOKEN, SandboxApp
from .control import snapshot
from .faults import Faults
from .limits import RateLimiter
from .seed import seed_workspace
from .workspace import DEFAULT_NOW, Workspace

IN_PROCESS_URL = "http://slack.sandbox/api/"


class Sandbox:
    """A Slack workspace you can call: workspace + faults + limiter + app (+ a real server).

    sandbox = Sandbox(seed=7, regime="non_marketplace", clock=fake_clock.now)
    with sandbox.client() as http:
        http.get("conversations.history", params={"channel": sandbox.channel("general")})
    """

    base_url = IN_PROCESS_URL

    def __init__(
        self,
        seed: int = 0,
        *,
        regime: str = "tier3",
        clock: Callable[[], object] | None = None,
        token: str = TOKEN,
        workspace: Workspace | None = None,
        **sizes: Any,
    ) -> None:
        self.seed = seed
        self.token = token
        self.workspace = workspace or seed_workspace(seed, clock=clock, **sizes)
        self.faults = Faults(seed)
        self.limiter = RateLimiter(regime)
        self.app = SandboxApp(self.workspace, faults=self.faults, limiter=self.limiter, token=token)

    def transport(self) -> SandboxTransport:
        return SandboxTransport(app=self.app)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx.Client on the in-process transport, authenticated as the sandbox bot."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.Client(
            base_url=self.base_url, transport=self.transport(), headers=headers, **kwargs
        )

    def call(self, method: str, **params: Any) -> httpx.Response:
        """One in-process API call (form-encoded POST, like slack_sdk)."""
        with self.client() as http:
            return http.post(method, data={k: str(v) for k, v in params.items()})

    def channel(self, name: str) -> str:
        """The id of the channel called `name` (e.g. "general", "watercooler")."""
        return self.workspace.channel_named(name).id

    @property
    def regime(self) -> str:
        """ "tier3", "non_marketplace" or "unlimited"; settable at runtime (vendors.md §1.6)."""
        return self.limiter.regime

    @regime.setter
    def regime(self, value: str) -> None:
        self.limiter.regime = value

    def invalidate_cursors(self) -> None:
        """Every cursor issued so far answers `invalid_cursor` from now on (§1.5)."""
        self.app.cursors.invalidate()

    @property
    def now(self) -> float:
        return self.workspace.now

    def advance(self, seconds: float) -> None:
        self.workspace.advance(seconds)

    @property
    def calls(self) -> Counter[str]:
        return self.app.calls

    def metrics(self) -> dict[str, Any]:
        return self.app.metrics.as_dict()

    def state(self) -> dict[str, Any]:
        return snapshot(self.workspace)

    @contextmanager
    def serving(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve over real HTTP for the block; yields the root URL (the API is at <url>/api/)."""
        url, stop = start_in_thread(self.app, host=host, port=port)
        try:
            yield url
        finally:
            stop()


def start_in_thread(
    app: SandboxApp | Sandbox, *, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Serve `app` from a background thread; returns (root URL, stop). Port 0 picks a free one."""
    wsgi = app.app if isinstance(app, Sandbox) else app
    return serve_in_thread(wsgi, host=host, port=port)


def signing_secret() -> str:
    """The secret deliveries are signed with: `pipeline serve` checks them with the same one."""
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not secret:
        raise ConfigError(
            "--webhook-url signs deliveries with $SLACK_SIGNING_SECRET: set it (the same for serve)"
        )
    return secret


def serve(
    port: int = 0,
    seed: int = 0,
    host: str = "127.0.0.1",
    regime: str = "tier3",
    *,
    on_ready: Callable[[str], None] | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    **sizes: Any,
) -> None:
    """Serve a seeded sandbox until interrupted (`pipeline sandbox slack --port N --seed S`).

    `on_ready(url)` is called with the root URL once the socket listens; the API is at <url>/api/
    and the token is `TOKEN`. With `webhook_url`, changes are POSTed there as signed Events API
    deliveries (`events.py`).
    """
    started = time.time()
    # A served sandbox lives in real time (from DEFAULT_NOW on), so its rate budgets refill.
    sandbox = Sandbox(
        seed, regime=regime, clock=lambda: DEFAULT_NOW + time.time() - started, **sizes
    )
    server = make_server(sandbox.app, host, port)
    if webhook_url:  # every change made through the API is also sent as an Events API delivery
        from .events import EventSender

        EventSender(sandbox.workspace, webhook_url, webhook_secret or signing_secret())
    try:
        if on_ready is not None:
            on_ready(f"http://{host}:{server.server_address[1]}")
        server.serve_forever()
    finally:
        server.server_close()
