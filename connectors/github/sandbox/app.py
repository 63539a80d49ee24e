"""The sandbox's WSGI app: GitHub's REST wire format in front of the world, limits and faults.

Per request: faults, then auth (`Bearer` or `token`; 401 "Bad credentials"), the primary limit,
the secondary limit, the route, ETag / Last-Modified and 304 (which costs no primary budget),
then `x-ratelimit-*` headers on every answer (vendors.md §4.1, §6.3). `/_sandbox/<op>` is the
control plane (`control.py`). Every call is counted and journaled with its fake time (§6.1.8).
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import orjson

from pipeline.testing import REAL_HTTP, SimulatedTimeout

from . import control, render
from .clock import http_date
from .faults import Call, Fault, Faults
from .limits import Limits
from .listing import QueryError
from .routes import Ctx, Reply, match
from .world import NotFound, World

TOKEN = "ghp_sandbox_token"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
UNICORN = (
    "<!DOCTYPE html><html><head><title>Unicorn! &middot; GitHub</title></head><body>"
    "<p><strong>We had issues producing the response to your request.</strong></p></body></html>"
)
StartResponse = Callable[..., Any]


@dataclass
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    costs: bool = True  # counts against the primary limit (a 304 or a limit answer does not)

    @classmethod
    def json(
        cls, body: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        data = orjson.dumps(body)
        return cls(status, data, [("Content-Type", "application/json; charset=utf-8"), *headers])


@dataclass
class Metrics:
    """Server-side counters (§6.5): what a benchmark reports as API efficiency."""

    calls: Counter[str] = field(default_factory=Counter)  # per route
    statuses: Counter[str] = field(default_factory=Counter)  # per HTTP status
    not_modified: int = 0
    primary_limited: int = 0
    secondary_limited: int = 0
    timeouts: int = 0
    items_served: int = 0
    bytes_served: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "statuses": dict(self.statuses),
            "not_modified": self.not_modified,
            "primary_limited": self.primary_limited,
            "secondary_limited": self.secondary_limited,
            "timeouts": self.timeouts,
            "items_served": self.items_served,
            "bytes_served": self.bytes_served,
        }


class SandboxApp:
    """A WSGI callable serving one world. Thread-safe: one lock around each call's work."""

    def __init__(
        self,
        world: World,
        *,
        faults: Faults | None = None,
        limits: Limits | None = None,
        token: str = TOKEN,
        journal_size: int = 10_000,
    ) -> None:
        self.world = world
        self.faults = faults or Faults()
        self.limits = limits or Limits()
        self.token = token
        self.with_last = True  # rel="last" in Link headers (GitHub may omit it, §4.1)
        self.metrics = Metrics()
        self.journal: deque[dict[str, Any]] = deque(maxlen=journal_size)
        self.on_change: Callable[[str, dict[str, Any]], None] | None = None  # webhooks
        self._request_ids = itertools.count(1)
        self._lock = threading.RLock()

    @property
    def calls(self) -> Counter[str]:
        return self.metrics.calls

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self.respond(environ)
        if environ.get(REAL_HTTP) and "gzip" in str(environ.get("HTTP_ACCEPT_ENCODING", "")):
            response = _gzipped(response)
        status = f"{response.status} {HTTPStatus(response.status).phrase}"
        start_response(status, [*response.headers, ("Content-Length", str(len(response.body)))])
        return [response.body]

    def respond(self, environ: dict[str, Any]) -> Response:
        path = environ.get("PATH_INFO", "") or "/"
        try:
            params = read_params(environ)
        except ValueError:
            return Response.json(render.error("Problems parsing JSON", 400), 400)
        if path.startswith("/_sandbox/"):
            with self._lock:
                status, body = control.handle(self, path.removeprefix("/_sandbox/"), params)
            return Response.json(body, status)
        self.limits.enter()
        try:
            return self._api(environ, path, params)
        finally:
            self.limits.leave()

    def _api(self, environ: dict[str, Any], path: str, params: dict[str, Any]) -> Response:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        route, handler, args = match(path)
        call = Call(method, route, path, _page(params))
        with self._lock:
            self.metrics.calls[route] += 1
            if self.faults.take(call, ("timeout",)):
                self.metrics.timeouts += 1
                self._journal(call, params, environ, 504)
                if not environ.get(REAL_HTTP):
                    raise SimulatedTimeout(f"sandbox timeout on {method} {path}")
                return Response(504, UNICORN.encode(), [("Content-Type", "text/html")])
            token = auth_token(environ)
            key = token if token == self.token else "anonymous"
            response = self._gate(call, token) or self._serve(environ, route, handler, args, params)
            if response.costs and route != "rate_limit" and key != "anonymous":
                self.limits.spend(key, self.world.now)
            response.headers += [*self._common_headers(), *self.limits.headers(key, self.world.now)]
            self.metrics.statuses[str(response.status)] += 1
            self.metrics.not_modified += response.status == 304
            self.metrics.bytes_served += len(response.body)
            self._journal(call, params, environ, response.status)
        return response

    def _gate(self, call: Call, token: str | None) -> Response | None:
        """Faults, auth, then the primary and secondary limits; None lets the call through."""
        fault = self.faults.take(call, ("http_error", "bad_json", "secondary", "primary"))
        if fault is not None:
            return self._fault_response(fault)
        if token != self.token:
            return Response.json(render.error("Bad credentials", 401), 401)
        if call.route == "rate_limit":
            return None  # GET /rate_limit costs nothing and is never limited (GitHub docs)
        if self.limits.primary_exhausted(token, self.world.now):
            return self._primary_limited(self.limits.settings.primary_status)
        wait = self.limits.secondary_wait(token, self.world.now, 1 if call.method == "GET" else 5)
        if wait is not None:
            retry = wait if self.limits.settings.secondary_retry_after else None
            return self._secondary_limited(self.limits.settings.secondary_status, retry)
        return None

    def _serve(
        self,
        environ: dict[str, Any],
        route: str,
        handler: Callable[[Ctx], Reply] | None,
        args: dict[str, str],
        params: dict[str, Any],
    ) -> Response:
        if route == "rate_limit":
            return self._rate_limit(environ)
        if handler is None or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return Response.json(render.error("Not Found", 404), 404)
        ctx = Ctx(
            self.world,
            root_url(environ),
            str(environ.get("PATH_INFO")),
            params,
            args,
            self.with_last,
            self.world.viewer,
        )
        try:
            reply = handler(ctx)
        except NotFound:
            return Response.json(render.error("Not Found", 404), 404)
        except QueryError as exc:
            return Response.json(render.error(f"Validation Failed: {exc}", 422), 422)
        self.metrics.items_served += reply.items
        return conditional(environ, reply)

    def _rate_limit(self, environ: dict[str, Any]) -> Response:
        token = auth_token(environ) or "anonymous"
        core = self.limits.core(token, self.world.now)
        return Response.json({"resources": {"core": core}, "rate": core})

    def _fault_response(self, fault: Fault) -> Response:
        if fault.kind == "secondary":
            return self._secondary_limited(fault.status, fault.retry_after_s)
        if fault.kind == "primary":  # spend the whole window: remaining 0 until its reset
            self.limits.exhaust(self.token, self.world.now)
            return self._primary_limited(fault.status)
        if fault.kind == "bad_json":
            return Response(200, b'[{"url": "ht', [("Content-Type", "application/json")])
        if fault.status >= 502:
            return Response(fault.status, UNICORN.encode(), [("Content-Type", "text/html")])
        return Response.json(render.error("Server Error", fault.status), fault.status)

    def _primary_limited(self, status: int) -> Response:
        """403/429; the headers added after it say `x-ratelimit-remaining: 0` (§4.1)."""
        self.metrics.primary_limited += 1
        user_id = self.world.users[self.world.viewer].id
        message = f"API rate limit exceeded for user ID {user_id}."
        response = Response.json(render.error(message, status, RATE_DOCS), status)
        response.costs = False
        return response

    def _secondary_limited(self, status: int, retry_after_s: int | None) -> Response:
        self.metrics.secondary_limited += 1
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again. If you reach out to GitHub Support for help, please include the request ID "
            f"{self._request_id()}."
        )
        headers = [] if retry_after_s is None else [("retry-after", str(retry_after_s))]
        body = render.error(message, status, f"{RATE_DOCS}#about-secondary-rate-limits")
        response = Response.json(body, status, headers)
        response.costs = False
        return response

    def _request_id(self) -> str:
        return f"5A1D:{next(self._request_ids):08X}"

    def _common_headers(self) -> list[tuple[str, str]]:
        return [
            ("x-github-api-version-selected", "2022-11-28"),
            ("x-github-media-type", "github.v3; format=json"),
            ("x-github-request-id", self._request_id()),
        ]

    def _journal(
        self, call: Call, params: dict[str, Any], environ: dict[str, Any], status: int
    ) -> None:
        self.journal.append(
            {
                "at": self.world.now,
                "method": call.method,
                "path": call.path,
                "route": call.route,
                "params": dict(params),
                "page": call.page,
                "status": status,
                "if_none_match": environ.get("HTTP_IF_NONE_MATCH"),
            }
        )


def conditional(environ: dict[str, Any], reply: Reply) -> Response:
    """A 200 with ETag (and Last-Modified), or 304 with an empty body when the client has it."""
    if isinstance(reply.body, bytes):
        headers = [("Content-Type", "application/json; charset=utf-8"), *reply.headers]
        response = Response(reply.status, reply.body, headers)
    else:
        response = Response.json(reply.body, reply.status, reply.headers)
    if reply.status != 200:
        return response
    etag = f'W/"{hashlib.sha256(response.body).hexdigest()}"'
    validators = [("ETag", etag)]
    if reply.last_modified is not None:
        validators.append(("Last-Modified", http_date(reply.last_modified)))
    response.headers += validators
    if _not_modified(environ, etag, reply.last_modified):
        return Response(304, b"", validators, costs=False)  # free (vendors.md §4.1)
    return response


def _not_modified(environ: dict[str, Any], etag: str, last_modified: float | None) -> bool:
    tags = environ.get("HTTP_IF_NONE_MATCH")
    if tags:
        wanted = {t.strip().removeprefix("W/") for t in str(tags).split(",")}
        return "*" in wanted or etag.removeprefix("W/") in wanted
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since and last_modified is not None:
        return http_date(last_modified) == str(since).strip()
    return False


def _gzipped(response: Response) -> Response:
    if not response.body:
        return response
    body = gzip.compress(response.body, compresslevel=1)
    return Response(response.status, body, [*response.headers, ("Content-Encoding", "gzip")])


def _page(params: dict[str, Any]) -> int:
    try:
        return max(1, int(str(params.get("page", 1))))
    except ValueError:
        return 1


def auth_token(environ: dict[str, Any]) -> str | None:
    """`Authorization: Bearer <t>` or `Authorization: token <t>` (both accepted by GitHub)."""
    scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    return value.strip() or None if scheme.lower() in ("bearer", "token") else None


def root_url(environ: dict[str, Any]) -> str:
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def read_params(environ: dict[str, Any]) -> dict[str, Any]:
    """Query string plus a form or JSON body; ValueError for a malformed JSON body."""
    params: dict[str, Any] = dict(
        parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    )
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    if not body:
        return params
    content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if content_type == "application/json":
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        params.update(data)
    else:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params
