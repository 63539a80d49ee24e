"""Serving a vendor sandbox (a WSGI app): in-process through httpx, or over real HTTP.

Every sandbox answers the same two ways: in-process, where a simulated timeout becomes
`httpx.ReadTimeout` at once (tests never sleep), and on a real socket, where the app is told so
(`REAL_HTTP` in the environ) and answers a timeout as a gateway would. These are the pieces the
sandboxes share; each names its own URL path and banner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.types import WSGIApplication

import httpx

REAL_HTTP = "sandbox.real_http"
"""Environ key set on requests that came over a real socket."""


class SimulatedTimeout(Exception):
    """Raised by a sandbox app instead of sleeping; `SandboxTransport` makes it a ReadTimeout."""


class SandboxTransport(httpx.WSGITransport):
    """httpx's WSGI transport, turning a simulated timeout into httpx.ReadTimeout (no sleeping)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except SimulatedTimeout as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from None


class _Handler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[REAL_HTTP] = True
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the app keeps its own journal."""


class SandboxServer(ThreadingMixIn, WSGIServer):
    daemon_threads = False  # server_close() joins handler threads: no socket outlives stop()
    allow_reuse_address = False  # a busy port must fail, not be shared


def make_server(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Bind now, so a busy port fails before any banner (the CLI says so in one line, exit 1:
    `pipeline.failures`), and attach `app`."""
    server = SandboxServer((host, port), _Handler)
    server.set_app(app)
    return server


def start_in_thread(
    app: WSGIApplication, *, host: str = "127.0.0.1", port: int = 0, path: str = ""
) -> tuple[str, Callable[[], None]]:
    """Serve `app` from a background thread → (root URL + `path`, stop). Port 0: a free one."""
    server = make_server(app, host, port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return f"http://{host}:{server.server_address[1]}{path}", stop
