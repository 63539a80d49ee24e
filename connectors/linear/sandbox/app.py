"""The sandbox's WSGI app: Linear's GraphQL endpoint in front of the store, faults and limits.

`POST /graphql` speaks Linear (vendors.md §4.2, §6.4): a JSON body `{query, variables,
operationName}`, `Authorization: <personal key>` (no `Bearer`) or `Bearer <OAuth token>`. The
order of checks is the gateway's (5xx, timeouts), then auth, validation (400
GRAPHQL_VALIDATION_FAILED), the per-query complexity cap, both rate budgets (RATELIMITED), then
execution. Every answer past auth carries the rate-limit headers. `/_sandbox/<op>` is the control
plane (`control.py`). Calls are counted and journaled with their fake time (§6.1.8, §6.5).
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from graphql import FieldNode

from pipeline.testing import REAL_HTTP, SimulatedTimeout

from . import control
from .cursors import Cursors
from .executor import Executor, Prepared, error, format_errors
from .faults import Call, Fault, Faults
from .limits import RateLimits, literal_arguments
from .resolvers import Root
from .store import Store

TOKEN = "lin_api_sandbox0000000000000000000000000000"
OAUTH_TOKEN = "lin_oauth_sandbox000000000000000000000000"
GATEWAY_HTML = (
    "<html><head><title>{status} {phrase}</title></head><body><center><h1>{status} {phrase}"
    "</h1></center><hr><center>cloudflare</center></body></html>"
)
StartResponse = Callable[..., Any]
Body = dict[str, Any]


@dataclass
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, body: Body, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        extra = list((headers or {}).items())
        return cls(status, data, [("Content-Type", "application/json; charset=utf-8"), *extra])

    @classmethod
    def gateway(cls, status: int) -> Response:
        phrase = HTTPStatus(status).phrase
        page = GATEWAY_HTML.format(status=status, phrase=phrase).encode()
        return cls(status, page, [("Content-Type", "text/html; charset=utf-8")])


@dataclass
class Metrics:
    """Server-side counters (§6.5): what a benchmark reports as API efficiency."""

    calls: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # by extensions.code
    ratelimited: int = 0
    http_errors: int = 0
    timeouts: int = 0
    complexity_points: int = 0
    issues_served: int = 0
    bytes_served: int = 0
    cpu_s: float = 0.0  # CPU the sandbox spent answering (a benchmark subtracts it)

    def as_dict(self) -> Body:
        out = dict(self.__dict__)
        out["errors"] = dict(self.errors)
        return out


class SandboxApp:
    """A WSGI callable serving one store. One lock around each request's work."""

    def __init__(
        self,
        store: Store,
        *,
        faults: Faults | None = None,
        limits: RateLimits | None = None,
        token: str = TOKEN,
        oauth_token: str = OAUTH_TOKEN,
        max_first: int = 250,
        sort: str = "desc",
        journal_size: int = 10_000,
    ) -> None:
        self.store = store
        self.faults = faults or Faults()
        self.limits = limits or RateLimits()
        self.executor = Executor()
        self.cursors = Cursors()
        self.token = token
        self.oauth_token = oauth_token
        self.max_first = max_first  # "first ranges 1-250" (third-party, §4.2): settable
        self.sort = sort
        self.metrics = Metrics()
        self.journal: deque[Body] = deque(maxlen=journal_size)
        self.lock = store.lock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        response = self.respond(environ)
        status = f"{response.status} {HTTPStatus(response.status).phrase}"
        start_response(status, [*response.headers, ("Content-Length", str(len(response.body)))])
        return [response.body]

    def respond(self, environ: dict[str, Any]) -> Response:
        path = str(environ.get("PATH_INFO", ""))
        try:
            body = read_body(environ)
        except ValueError:
            return Response.json(
                {"errors": [error("BAD_REQUEST", "POST body sent invalid JSON.")]}, 400
            )
        if path.startswith("/_sandbox/"):
            with self.lock:
                status, answer = control.handle(self, path.removeprefix("/_sandbox/"), body)
            return Response.json(answer, status)
        if path.rstrip("/") != "/graphql":
            return Response.json({"errors": [error("NOT_FOUND", f"No route {path}")]}, 404)
        with self.lock:
            cpu = time.thread_time()
            response = self.graphql(body, environ)
            self.metrics.cpu_s += time.thread_time() - cpu
            response.headers.append(("Date", formatdate(self.store.clock.now(), usegmt=True)))
            self.metrics.bytes_served += len(response.body)
        return response

    def graphql(self, body: Body, environ: dict[str, Any]) -> Response:
        """One GraphQL request, through the checks of the module docstring in order."""
        self.metrics.calls += 1
        prepared = self.executor.prepare(body)
        call = self._call(prepared)
        response = self._gateway(call, bool(environ.get(REAL_HTTP)))
        response = response or self._authenticate(environ.get("HTTP_AUTHORIZATION"))
        if response is None and isinstance(prepared, list):
            response = self._errors(prepared, 400)
        if response is None:
            assert isinstance(prepared, Prepared)
            response = self._run(prepared, call, str(environ.get("HTTP_AUTHORIZATION")))
        self._journal(call, body, response)
        return response

    def _call(self, prepared: Prepared | list[Body]) -> Call:
        if isinstance(prepared, list):
            return Call()
        name = prepared.root_field
        after = self._root_args(prepared).get("after")
        return Call(name, self.cursors.page_of(after), after)

    def _root_args(self, prepared: Prepared) -> Body:
        node = next(iter(prepared.operation.selection_set.selections), None)
        return literal_arguments(node, prepared.variables) if isinstance(node, FieldNode) else {}

    def _gateway(self, call: Call, real_http: bool) -> Response | None:
        fault = self.faults.take(call, ("timeout", "http_error"))
        if fault is None:
            return None
        if fault.kind == "timeout":
            self.metrics.timeouts += 1
            if not real_http:
                raise SimulatedTimeout(f"sandbox timeout on {call.field}")
            return Response.gateway(504)
        self.metrics.http_errors += 1
        if fault.status == 500:
            return self._errors([error("INTERNAL_ERROR", fault.message)], 500)
        return Response.gateway(fault.status)

    def _authenticate(self, header: object) -> Response | None:
        """Personal keys go bare, OAuth tokens as `Bearer` (§4.2); anything else is refused."""
        value = str(header or "").strip()
        scheme, _, rest = value.partition(" ")
        if value == self.token or (scheme.lower() == "bearer" and rest.strip() == self.oauth_token):
            return None
        message = "Authentication required, not authenticated"
        return self._errors([error("AUTHENTICATION_ERROR", message, statusCode=401)], 400)

    def _run(self, prepared: Prepared, call: Call, key: str) -> Response:
        points = self.executor.complexity(prepared)
        if points > self.limits.max_complexity:
            message = (
                f"Query too complex: complexity {points} exceeds the maximum of "
                f"{self.limits.max_complexity} per query; ask for fewer nodes with a smaller first"
            )
            extra = {"complexity": points, "maxComplexity": self.limits.max_complexity}
            return self._errors([error("INVALID_INPUT", message, **extra)], 400)
        forced = self.faults.take(call, ("ratelimited",))
        verdict = self.limits.spend(key, 0 if forced else points, self.store.clock.now())
        if forced is not None or not verdict.allowed:
            return self._ratelimited(verdict.headers, verdict.exhausted or "requests")
        self.metrics.complexity_points += points
        fault = self.faults.take(call, ("error",))
        if fault is not None:
            return self._errors(
                [error(fault.code, fault.message, **fault.extra)], fault.status, verdict.headers
            )
        return self._execute(prepared, call, verdict.headers)

    def _execute(self, prepared: Prepared, call: Call, headers: dict[str, str]) -> Response:
        root = Root(self.store, self.cursors, max_first=self.max_first, sort=self.sort)
        result = self.executor.execute(prepared, root)
        self.metrics.issues_served += root.nodes_served
        answer: Body = {"data": result.data}
        errors = format_errors(result)
        fault = self.faults.take(call, ("partial",)) if result.data is not None else None
        if fault is not None:
            errors.append(_break_one_node(answer["data"], call.field or "", fault))
        if errors:
            answer["errors"] = errors
            for item in errors:
                self.metrics.errors[item["extensions"]["code"]] += 1
        else:
            self.metrics.ok += 1
        return Response.json(answer, 200 if result.data is not None else 400, headers)

    def _ratelimited(self, headers: dict[str, str], budget: str) -> Response:
        self.metrics.ratelimited += 1
        message = f"Rate limit exceeded: the {budget} budget of this API key is spent"
        return self._errors([error("RATELIMITED", message)], self.limits.status, headers)

    def _errors(
        self, errors: list[Body], status: int, headers: dict[str, str] | None = None
    ) -> Response:
        for item in errors:
            self.metrics.errors[item["extensions"]["code"]] += 1
        return Response.json({"errors": errors}, status, headers)

    def _journal(self, call: Call, body: Body, response: Response) -> None:
        codes = []
        if response.body.startswith(b"{"):
            codes = [e["extensions"]["code"] for e in json.loads(response.body).get("errors", ())]
        self.journal.append(
            {
                "at": self.store.clock.now(),
                "field": call.field,
                "page": call.page,
                "variables": body.get("variables") or {},
                "status": response.status,
                "errors": codes,
                "complexity": dict(response.headers).get("x-complexity"),
            }
        )


def _break_one_node(data: Body, field_name: str, fault: Fault) -> Body:
    """A nested resolver failed: null the middle node's `assignee`, report it with its path."""
    nodes = (data.get(field_name) or {}).get("nodes") if isinstance(data, dict) else None
    path: list[Any] = [field_name]
    if nodes:
        index = len(nodes) // 2
        if isinstance(nodes[index], dict) and "assignee" in nodes[index]:
            nodes[index]["assignee"] = None
            path = [field_name, "nodes", index, "assignee"]
        else:
            path = [field_name, "nodes", index]
    body = error(fault.code, fault.message, **fault.extra)
    body["path"] = path
    return body


def read_body(environ: dict[str, Any]) -> Body:
    """Query string plus a JSON or form body; ValueError for malformed JSON."""
    params: Body = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    if not raw:
        return params
    content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        return params
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("JSON body must be an object")
    params.update(data)
    return params
