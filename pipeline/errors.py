"""One error tree; each branch says what the engine does with it (STYLE "Errors: a tree with a policy").

    PipelineError
    ├── ConfigError             bad input → one-line CLI message, non-zero exit, nothing written
    │   ├── UnknownStreamError  message lists the known names
    │   └── MissingTokenError   names the variable and `--sandbox`
    ├── SourceError             the vendor walk failed → run `failed`; committed pages stay
    │   ├── TransientError      5xx / timeout / connection → retried by RetryPolicy
    │   │   └── RateLimitedError  HTTP 429; carries retry_after_s
    │   ├── AuthError           invalid_auth → failed, hint names the token variable
    │   ├── AccessLostError     not_in_channel / channel_not_found → never tombstone
    │   ├── InvalidCursorError  restart the window from the oldest applied ts
    │   ├── MalformedPageError  a well-formed answer that breaks the vendor's contract → the
    │   │                       scope's walk is incomplete: nothing of it is swept
    │   └── PageTooLargeError   the vendor refused the page size (GraphQL complexity) → the
    │                           stream asks again with half of it (`page_size_at`)
    ├── ChangeError             one record failed validation or mapping → item `failed`, run `partial`
    ├── GuardError              deletion-by-absence guard tripped → no tombstones, run `partial`
    ├── IncompleteError         some scopes could not be read; the others synced → run `partial`
    ├── LeaseLostError          fencing check failed → run `lost_lease`, page rolled back
    └── StoppedError            SIGTERM / Ctrl-C after a committed page → run `stopped`, resumes later
    BudgetSpent (a signal, not an error) → checkpoint, run `throttled`

A second Ctrl-C (KeyboardInterrupt) also ends a run `stopped`: its page in flight rolls back.
Messages are redacted when they are built: no token ever reaches a log, a run row or an event.
`RUN_STATUS` maps each class to the run status it ends in; tests read the same table.
"""

from __future__ import annotations

import re

_SECRET = re.compile(r"(xox[abposr]-[A-Za-z0-9-]+|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+)")
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so `redact` removes it wherever it appears, whatever its shape."""
    if value and len(value) >= 4:
        _known_secrets.add(value)


def redact(text: str) -> str:
    """Replace every token-looking string and every registered secret with `[REDACTED]`."""
    for secret in _known_secrets:
        text = text.replace(secret, "[REDACTED]")
    return _SECRET.sub("[REDACTED]", text)


class PipelineError(Exception):
    """The pipeline failed."""

    def __init__(self, message: str | None = None, **context: object) -> None:
        self.context = context
        super().__init__(redact(message or (self.__doc__ or type(self).__name__).strip()))


class ConfigError(PipelineError):
    """The configuration is invalid."""


class UnknownStreamError(ConfigError):
    """No stream has that name."""


class MissingTokenError(ConfigError):
    """No vendor token was given."""


class SourceError(PipelineError):
    """The vendor walk failed."""


class TransientError(SourceError):
    """The vendor had a transient failure (5xx, timeout, connection error)."""


class RateLimitedError(TransientError):
    """The vendor rate-limited the request (HTTP 429)."""

    def __init__(self, message: str | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class AuthError(SourceError):
    """The vendor rejected the token."""


class AccessLostError(SourceError):
    """The token can no longer read this scope; nothing in it may be tombstoned."""


class InvalidCursorError(SourceError):
    """The vendor no longer accepts the page cursor."""


class PageTooLargeError(SourceError):
    """The vendor refused a page as too large or costly (a GraphQL query's complexity): a stream
    that declares `page_size_at` asks again with half the page size."""


class MalformedPageError(SourceError):
    """The vendor's answer breaks its own contract (e.g. `has_more` without a cursor)."""


class ChangeError(PipelineError):
    """One record failed validation or mapping."""


class GuardError(PipelineError):
    """Deletion by absence would tombstone more than the configured fraction of a scope."""


class IncompleteError(PipelineError):
    """Some scopes of the subscription could not be read; the others were synced."""


class LeaseLostError(PipelineError):
    """Another run took this subscription's lease over; this run's page was rolled back."""


class StoppedError(PipelineError):
    """The process is shutting down; the run stopped after its last committed page."""


class BudgetSpent(Exception):
    """The run's request budget is spent: checkpoint and end `throttled` (a signal, not an error)."""

    def __init__(self, retry_after_s: float | None = None) -> None:
        super().__init__("request budget spent")
        self.retry_after_s = retry_after_s


RUN_STATUS: dict[type[BaseException], str] = {
    StoppedError: "stopped",
    KeyboardInterrupt: "stopped",  # Ctrl-C: the page in flight rolled back, the next run resumes
    LeaseLostError: "lost_lease",
    BudgetSpent: "throttled",
    SourceError: "failed",
    ChangeError: "partial",
    GuardError: "partial",
    IncompleteError: "partial",
    PipelineError: "failed",
}


def run_status_for(error: BaseException) -> str:
    """The run status an error ends a run in (most specific class wins)."""
    for cls in type(error).__mro__:
        if cls in RUN_STATUS:
            return RUN_STATUS[cls]
    return "failed"
