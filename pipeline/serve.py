"""`pipeline serve` (DESIGN §8, §10): the webhook receiver, `/healthz` and `/metrics`, on uvicorn.

    POST /webhooks/{connector}?tenant=T   verify → store in the inbox → 2xx (then applied)
    GET  /healthz                         200 while the database answers
    GET  /metrics                         the shared Prometheus registry

Each request's database work runs on a worker thread; the applier runs on its own thread and is
woken by every stored delivery. SIGTERM or Ctrl-C: uvicorn stops accepting, finishes the requests
in flight, then the applier finishes its batch and the command exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import anyio.to_thread
import sqlalchemy as sa
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipeline.errors import ConfigError
from pipeline.http.clock import Clock
from pipeline.metrics import REGISTRY
from pipeline.subscriptions import DEFAULT_TENANT
from pipeline.webhooks.applier import Applier
from pipeline.webhooks.receiver import Receiver

log = logging.getLogger("pipeline.serve")
MAX_BODY_BYTES = 1 << 20  # vendor event payloads are a few kB (DESIGN §8 vendors)
RECEIPTS = 4
"""Receipts in flight at once (each a worker thread and a pooled connection); more queue in the
event loop. Past the cores, more threads only fight over the GIL and the pool (bench/README.md)."""
APPLYING_RUNS = 4
"""Subscriptions applied at once by one `serve` process, each by a run following its burst."""


@dataclass
class ServeOptions:
    max_body_bytes: int = MAX_BODY_BYTES
    apply: bool = True  # False: store only (tests apply by hand, a crash test kills in between)
    receipts: int = RECEIPTS
    applying_runs: int = APPLYING_RUNS


def pool_size(options: ServeOptions | None = None) -> int:
    """Connections `serve` keeps besides the receipts' own (`Receiver`): one per applying run and
    its lease heartbeat, plus the dispatcher and `/healthz`; a pool that overflows opens and closes
    a connection per checkout."""
    options = options or ServeOptions()
    return 2 * options.applying_runs + 2


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it passes `limit` (before it is all read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(receiver: Receiver, engine: Engine, options: ServeOptions) -> Starlette:
    """The ASGI app; the receiver does the work, this only speaks HTTP."""
    receipts = anyio.CapacityLimiter(options.receipts)

    async def webhook(request: Request) -> Response:
        try:
            body = await read_body(request, options.max_body_bytes)
        except BodyTooLarge:
            return JSONResponse({"error": f"body over {options.max_body_bytes} bytes"}, 413)
        except ClientDisconnect:
            return Response(status_code=400)
        tenant = request.query_params.get("tenant") or DEFAULT_TENANT
        connector = request.path_params["connector"]
        reply = await anyio.to_thread.run_sync(
            receiver.receive, connector, tenant, dict(request.headers), body, limiter=receipts
        )
        return JSONResponse(dict(reply.body), reply.status)

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(_ping, engine)
        except sa.exc.SQLAlchemyError:
            return JSONResponse({"status": "database unreachable"}, 503)
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/webhooks/{connector}", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or one line saying the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets whose proto says TCP. Without it
    # a keep-alive response's body waits for the client's delayed ACK of its headers (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port"
        ) from None
    sock.listen(2048)  # connections queue from now on, even before uvicorn accepts them
    return sock


class Service:
    """The receiver, the applier thread and the uvicorn server of one `pipeline serve`."""

    def __init__(
        self, engine: Engine, options: ServeOptions | None = None, clock: Clock | None = None
    ) -> None:
        self.engine = engine
        self.options = options or ServeOptions()
        self.stop = threading.Event()
        self.applier = Applier(engine, clock, max_runs=self.options.applying_runs)
        self.receiver = Receiver(
            engine, clock, on_stored=self.applier.wakeups.stored, receipts=self.options.receipts
        )
        self.app = build_app(self.receiver, engine, self.options)
        self.server: uvicorn.Server | None = None

    def run(self, sock: socket.socket) -> None:
        """Serve until SIGTERM / Ctrl-C (or `shutdown`); in-flight requests finish first."""
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        applier = threading.Thread(target=self._apply, name="webhook-applier", daemon=True)
        if self.options.apply:
            applier.start()
        try:
            with _signals_end_cleanly():
                self.server.run(sockets=[sock])
        finally:
            self.stop.set()
            self.applier.wakeups.dispatch.set()
            if applier.is_alive():
                applier.join()
            self.receiver.close()

    def _apply(self) -> None:
        self.applier.run_forever(self.stop)

    def shutdown(self) -> None:
        if self.server is not None:
            self.server.should_exit = True

    @property
    def started(self) -> bool:
        return bool(self.server and self.server.started)


@contextlib.contextmanager
def _signals_end_cleanly() -> Iterator[None]:
    """uvicorn drains on SIGTERM/SIGINT, then raises the signal again for the previous handler:
    make that handler a no-op, so a drained server exits 0 (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def describe(host: str, port: int, connectors: list[str]) -> str:
    routes = ", ".join(f"/webhooks/{c}" for c in connectors) or "none"
    return f"serving on http://{host}:{port} (POST {routes}; /healthz, /metrics); Ctrl-C or SIGTERM to stop"
