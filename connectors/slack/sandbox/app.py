"""The sandbox's WSGI app: Slack's wire format in front of the workspace, faults and rate limits.

`/api/<method>` speaks Slack (vendors.md §1.1, §6.1.10): GET query strings, POST form or JSON
bodies, a Bearer token or a `token` field; HTTP 200 with `{"ok": …}` except for 429 and injected
5xx. `/_sandbox/<op>` is the control plane (`control.py`). Every call is counted per method and
journaled with its fake time, for tests and benchmarks (§6.1.8, §6.5).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from pipeline.testing import REAL_HTTP, SimulatedTimeout

from . import control
from .faults import Call, Fault, Faults, malform
from .limits import RateLimiter
from .methods import METHODS, Cursors, Request
from .workspace import SlackError, Workspace

TOKEN = "xoxb-sandbox-token"
HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>Server Error | Slack</title></head>"
    "<body><h1>Slack is having trouble</h1><p>Please try again.</p></body></html>"
)
StartResponse = Callable[..., Any]


@dataclass
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, body: dict[str, Any], status: int = 200, **headers: str) -> Response:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        extra = [(k.replace("_", "-"), v) for k, v in headers.items()]
        return cls(status, data, [("Content-Type", "application/json; charset=utf-8"), *extra])

    @classmethod
    def html(cls, status: int) -> Response:
        return cls(status, HTML_ERROR.encode(), [("Content-Type", "text/html; charset=utf-8")])


@dataclass
class Metrics:
    """Server-side counters per method (§6.5): what a benchmark reports as API efficiency."""

    calls: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # by Slack error code
    ratelimited: Counter[str] = field(default_factory=Counter)
    http_errors: Counter[str] = field(default_factory=Counter)
    timeouts: Counter[str] = field(default_factory=Counter)
    messages_served: int = 0
    bytes_served: int = 0

    def as_dict(self) -> dict[str, Any]:
        counters = ("calls", "ok", "errors", "ratelimited", "http_errors", "timeouts")
        out: dict[str, Any] = {name: dict(getattr(self, name)) for name in counters}
        out.update(messages_served=self.messages_served, bytes_served=self.bytes_served)
        return out


class SandboxApp:
    """A WSGI callable serving one workspace. Thread-safe: one lock around each call's work."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        faults: Faults | None = None,
        limiter: RateLimiter | None = None,
        token: str = TOKEN,
        journal_size: int = 10_000,
    ) -> None:
        self.workspace = workspace
        self.faults = faults or Faults()
        self.limiter = limiter or RateLimiter()
        self.cursors = Cursors()
        self.token = token
        self.metrics = Metrics()
        self.journal: deque[dict[str, Any]] = deque(maxlen=journal_size)
        self._lock = threading.RLock()

    @property
    def calls(self) -> Counter[str]:
        """Requests received per Slack method, whatever their outcome."""
        return self.metrics.calls

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self.respond(environ)
        status = f"{response.status} {HTTPStatus(response.status).phrase}"
        start_response(status, [*response.headers, ("Content-Length", str(len(response.body)))])
        return [response.body]

    def respond(self, environ: dict[str, Any]) -> Response:
        path = environ.get("PATH_INFO", "")
        try:
            params = read_params(environ)
        except ValueError:
            return Response.json({"ok": False, "error": "invalid_json"})
        if path.startswith("/_sandbox/"):
            with self._lock:
                status, body = control.handle(self, path.removeprefix("/_sandbox/"), params)
            return Response.json(body, status)
        method = path.rsplit("/", 1)[-1]
        call = self._call(method, params)
        timed_out = self._time_out(call, bool(environ.get(REAL_HTTP)))
        with self._lock:
            response = timed_out or self.api(
                call, params, bearer_token(environ) or params.get("token")
            )
            self.metrics.bytes_served += len(response.body)
        return response

    def _call(self, method: str, params: dict[str, Any]) -> Call:
        cursor = params.get("cursor") or None
        channel = params.get("channel")
        return Call(method, str(channel) if channel else None, self.cursors.page_of(cursor), cursor)

    def _time_out(self, call: Call, real_http: bool) -> Response | None:
        """A timeout fault. In-process: raise, never sleep. Real HTTP: a late answer when a test
        asked for a real `delay_s`, else a 504 from the "gateway"."""
        fault = self.faults.take(call, ("timeout",))
        if fault is None:
            return None
        if real_http and fault.delay_s > 0:
            time.sleep(fault.delay_s)  # explicitly requested (faults.timeout(delay_s=…))
            return None
        with self._lock:
            self.metrics.calls[call.method] += 1
            self.metrics.timeouts[call.method] += 1
            self._journal(call, {}, 504, "timeout")
        if not real_http:
            raise SimulatedTimeout(f"sandbox timeout on {call.method}")
        return Response.html(504)

    def api(self, call: Call, params: dict[str, Any], token: object) -> Response:
        """One Slack method call: faults, auth, rate limit, then the method itself."""
        self.metrics.calls[call.method] += 1
        response = self._gate(call, token) or self._run(call, params)
        self._journal(call, params, response.status, _error_of(response))
        return response

    def _gate(self, call: Call, token: object) -> Response | None:
        fault = self.faults.take(call, ("http_error", "ratelimited", "bad_json"))
        if fault is not None:
            return self._fault_response(call, fault)
        if call.method not in METHODS:
            return self._error(call, "unknown_method")
        if not token:
            return self._error(call, "not_authed")
        if token != self.token:
            return self._error(call, "invalid_auth")
        key = f"{token}:{call.channel}" if call.method == "chat.postMessage" else str(token)
        retry_after_s = self.limiter.check(call.method, key, self.workspace.now)
        if retry_after_s is not None:
            return self._ratelimited(call, retry_after_s)
        fault = self.faults.take(call, ("error",))
        if fault is not None:
            return self._error(call, fault.error, **fault.extra)
        return None

    def _run(self, call: Call, params: dict[str, Any]) -> Response:
        request = Request(self.workspace, params, self.limiter, self.cursors, self.faults, call)
        try:
            body = METHODS[call.method](request)
        except SlackError as exc:
            return self._error(call, exc.error, **exc.extra)
        fault = self.faults.take(call, ("malformed",))
        if fault is not None:
            body = malform(body, fault, call.method)
        self.metrics.ok[call.method] += 1
        self.metrics.messages_served += len(body.get("messages") or ())
        return Response.json(body)

    def _fault_response(self, call: Call, fault: Fault) -> Response:
        if fault.kind == "ratelimited":
            return self._ratelimited(call, fault.retry_after_s)
        if fault.kind == "bad_json":
            return Response(
                200, b'{"ok": true, "messages": [{"ty', [("Content-Type", "application/json")]
            )
        self.metrics.http_errors[call.method] += 1
        return Response.html(fault.status)

    def _ratelimited(self, call: Call, retry_after_s: int) -> Response:
        # HTTP 429 + Retry-After in whole seconds + the ratelimited body (vendors.md §1.6)
        self.metrics.ratelimited[call.method] += 1
        return Response.json(
            {"ok": False, "error": "ratelimited"}, 429, Retry_After=str(retry_after_s)
        )

    def _error(self, call: Call, error: str, **extra: Any) -> Response:
        self.metrics.errors[error] += 1
        return Response.json({"ok": False, "error": error, **extra})

    def _journal(self, call: Call, params: dict[str, Any], status: int, error: str | None) -> None:
        safe = {k: v for k, v in params.items() if k != "token"}  # never keep secrets
        self.journal.append(
            {
                "at": self.workspace.now,
                "method": call.method,
                "params": safe,
                "page": call.page,
                "status": status,
                "error": error,
            }
        )


def _error_of(response: Response) -> str | None:
    if response.status != 200 or not response.body.startswith(b'{"ok":false'):
        return None if response.status == 200 else f"http_{response.status}"
    return str(json.loads(response.body)["error"])


def bearer_token(environ: dict[str, Any]) -> str | None:
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


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
