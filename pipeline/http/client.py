"""The one HTTP client every connector uses (DESIGN §6, STYLE "pipeline/http/").

`HttpClient` wraps `httpx.Client` and adds, at one boundary: retries per `RetryPolicy`, HTTP 429
with `Retry-After`, adaptive pacing per vendor method (`pacing.py`), a per-run request cap,
`CallStats` for the run row, and redaction. Every wait goes through the injected `Clock` (tests
never sleep) and is announced to `on_wait` first. httpx's exceptions and bad statuses become
`pipeline.errors` here and only here, as httpx itself maps httpcore's in one place
(`map_httpcore_exceptions`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from pipeline.errors import (
    AuthError,
    BudgetSpent,
    RateLimitedError,
    SourceError,
    TransientError,
    redact,
)
from pipeline.http.auth import BearerToken
from pipeline.http.budget import Regime, RequestBudget
from pipeline.http.clock import Clock, SystemClock
from pipeline.http.pacing import Pacer, PaceScope
from pipeline.http.retry import RetryPolicy

log = logging.getLogger("pipeline.http")

WaitReason = Literal["rate_budget", "retry_after", "backoff"]
OnWait = Callable[[float, str], None]
Check = Callable[[httpx.Response], None]
Rejected = Callable[[httpx.Response, datetime], Exception | None]

CURRENT_CALL: ContextVar[str | None] = ContextVar("current_call", default=None)
"""The vendor method (or path) being requested; `on_wait` listeners read it to say what waits."""

# Worth another attempt: the request may not have reached the vendor, or the vendor hung up.
_TRANSIENT_HTTPX = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass
class CallStats:
    """What a run spent on the vendor; the engine copies these onto the run row."""

    api_calls: int = 0
    rate_limited: int = 0
    retries: int = 0
    waited_s: float = 0.0


class HttpClient:
    """A synchronous vendor client: `request()` returns a 2xx response or raises our errors.

    Raises `AuthError` (401/403), `SourceError` (other 4xx), `TransientError` once retries are used
    up, and `BudgetSpent` before sending when the run's request cap is spent, when the method's
    pace or a `Retry-After` would make it wait longer than `max_wait_s`, or when a vendor
    keeps answering 429: a run is never `failed` for being rate-limited, it ends `throttled`.
    `max_wait_s` does not apply to 5xx backoff, which `RetryPolicy.cap_s` bounds.

    `check(response)` runs after every 2xx, for vendors that report errors inside the body (an
    `ok: false`); a `TransientError` or `RateLimitedError` it raises is retried like any other.
    `rejected(response, now)` reads a non-2xx answer first and may return the error it means (a
    vendor whose rate limit is a 403); None falls back to the status mapping. With `check_errors`,
    `check` also reads 4xx answers first (a GraphQL API reports its rate limit and auth errors as
    HTTP 400 with an `errors` body); what it does not raise maps by status.
    Not thread-safe: one client per run.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: BearerToken | None = None,
        retry: RetryPolicy | None = None,
        regime: Regime | None = None,
        pacer: PaceScope | None = None,
        budget: RequestBudget | None = None,
        max_wait_s: float | None = None,
        clock: Clock | None = None,
        check: Check | None = None,
        rejected: Rejected | None = None,
        check_errors: bool = False,
        on_wait: OnWait | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = 30.0,
        headers: Mapping[str, str] | None = None,
        guard: Callable[[], None] | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.guard = guard  # raises to stop calling the vendor (e.g. the run's lease is lost)
        self.regime = regime
        self.budget = budget or RequestBudget()
        self.max_wait_s = max_wait_s
        self.clock: Clock = clock or SystemClock()
        self.check = check
        self.rejected = rejected
        self.check_errors = check_errors
        self.on_wait = on_wait
        self.stats = CallStats()
        self._auth = auth
        # one pace per vendor method; shared (per tenant) when the engine hands in its Pacer
        self.pacer = pacer or Pacer().scope("", "", regime, self.clock)
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": "integration-sync-pipeline", **(headers or {})},
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        budget_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] = (),
    ) -> httpx.Response:
        """Send `method path` until it succeeds or the policy gives up.

        `budget_key` (e.g. the vendor method name) picks the method's pace: the regime's rate,
        adapted to the vendor's 429s; a key the regime does not rate only waits out its
        `Retry-After`, and no key means no pacing at all. A status in `expect` (a 304
        to a conditional request, a 410 to a confirming GET) is returned, not raised.
        """
        if self._auth is not None:
            _ = self._auth.token  # a missing token fails now, before any budget is spent
        send = dict(params=params, data=data, json=json, headers=headers)
        CURRENT_CALL.set(budget_key or path.strip("/"))  # names the call a wait is for
        attempt = 1
        while True:
            try:
                response = self._attempt(method, path, budget_key, send, expect)
            except TransientError as error:
                self._before_retry(error, attempt, budget_key)
            else:
                if budget_key is not None:
                    self.pacer.get(budget_key).accepted()
                return response
            attempt += 1

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpClient(base_url={str(self._http.base_url)!r}, auth={self._auth!r})"

    def _attempt(
        self,
        method: str,
        path: str,
        budget_key: str | None,
        send: dict[str, Any],
        expect: Collection[int] = (),
    ) -> httpx.Response:
        """One attempt: the run's cap, the method's bucket, the send, then the status and body."""
        if self.guard is not None:
            self.guard()
        if self.budget.is_spent:
            raise BudgetSpent()
        self._throttle(budget_key)
        self.budget.spend()
        self.stats.api_calls += 1
        response = self._send(method, path, send)
        if response.status_code in expect:
            return response
        if self.check_errors and self.check is not None and 400 <= response.status_code < 500:
            self.check(response)
        self._raise_for_status(method, path, response)
        if self.check is not None:
            self.check(response)
        return response

    def _send(self, method: str, path: str, send: dict[str, Any]) -> httpx.Response:
        """Send through httpx; its exceptions become ours, redacted and without the httpx chain."""
        try:
            return self._http.request(method, path, **send)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = _source_error(exc, method, path)
        # Raised outside the except block so the httpx exception (whose text may hold the URL)
        # is neither the cause nor the context of ours, and no traceback prints it.
        raise error

    def _raise_for_status(self, method: str, path: str, response: httpx.Response) -> None:
        """Map a non-2xx status to our error tree; 2xx passes."""
        status = response.status_code
        if response.is_success:
            return
        where = f"HTTP {status} from {method} {path}"
        meant = self.rejected(response, self.clock.now()) if self.rejected else None
        if meant is not None:
            raise meant
        if status == 429:
            raise RateLimitedError(where, retry_after_s=self._retry_after_s(response))
        if status == 408 or status >= 500:
            raise TransientError(where, status=status)
        if status in (401, 403):
            raise AuthError(f"{where}: the vendor rejected the token", status=status)
        raise SourceError(f"{where}: {response.text[:200]}", status=status)

    def _retry_after_s(self, response: httpx.Response) -> float | None:
        """`Retry-After` in seconds (integer or HTTP-date form); None when absent or unreadable."""
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            seconds = self._seconds_until(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None

    def _seconds_until(self, http_date: str) -> float:
        try:
            when = parsedate_to_datetime(http_date)
        except (TypeError, ValueError):
            return math.nan
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return (when - self.clock.now()).total_seconds()

    def _throttle(self, budget_key: str | None) -> None:
        """Wait for the method's pace, or raise `BudgetSpent` if that wait is too long."""
        if budget_key is not None:
            self._wait(self.pacer.get(budget_key).acquire(self.max_wait_s), "rate_budget")

    def _before_retry(self, error: TransientError, attempt: int, budget_key: str | None) -> None:
        """Wait as the policy says before the next attempt, or re-raise (429s end `throttled`).

        A 429 first cuts the method's pace and blocks it until `Retry-After` (the policy's
        fallback when the vendor named no time), for every client sharing the pace."""
        is_rate_limit = isinstance(error, RateLimitedError)
        wait_s = self.retry.decide(error, attempt)
        if isinstance(error, RateLimitedError):
            self.stats.rate_limited += 1
            if budget_key is not None:
                block_s = error.retry_after_s or wait_s or self.retry.rate_limit_fallback_s
                self.pacer.limited(budget_key, block_s)
        if wait_s is None:
            raise self._give_up(error)
        if is_rate_limit and self.max_wait_s is not None and wait_s > self.max_wait_s:
            raise BudgetSpent(retry_after_s=wait_s) from error
        log.warning("attempt %d failed (%s); retrying in %.2fs", attempt, error, wait_s)
        self.stats.retries += 1
        self._wait(wait_s, "retry_after" if is_rate_limit else "backoff")

    def _give_up(self, error: TransientError) -> Exception:
        """The exception to end with once the attempts are used up."""
        if not isinstance(error, RateLimitedError):
            return error
        retry_after_s = error.retry_after_s or self.retry.rate_limit_fallback_s
        spent = BudgetSpent(retry_after_s=retry_after_s)
        spent.__cause__ = error
        return spent

    def _wait(self, seconds: float, reason: WaitReason) -> None:
        """Announce a wait to `on_wait` (lease renewal, progress bars), then sleep on the clock."""
        if seconds <= 0:
            return
        log.info("waiting %.2fs (%s)", seconds, reason)
        if self.on_wait is not None:
            self.on_wait(seconds, reason)
        self.clock.sleep(seconds)
        self.stats.waited_s += seconds


def _source_error(exc: Exception, method: str, path: str) -> SourceError:
    """Our error for an httpx exception; `PipelineError` redacts the text as it is built."""
    detail = f"{type(exc).__name__} on {method} {path}: {exc}"
    if isinstance(exc, _TRANSIENT_HTTPX):
        return TransientError(detail)
    return SourceError(detail)


class _RedactFilter(logging.Filter):
    """Redact a record's final text, so no token reaches a handler (httpx logs full URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # args that do not fit the format: keep neither raw
            text = f"{record.msg} {record.args}"
        record.msg, record.args = redact(text), None
        return True


def _install_redaction(*logger_names: str) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactFilter) for f in logger.filters):
            logger.addFilter(_RedactFilter())


_install_redaction("pipeline.http", "httpx")
