"""The Slack Web API envelope on the shared HTTP toolkit: `ok: false` bodies become our errors.

Slack reports errors inside HTTP 200 bodies (vendors.md §1.2, §1.5); `check` translates them at
this one boundary. Regimes follow vendors.md §1.6: `tier3` (the default) and `non_marketplace`
(conversations.history / replies at 1 request per minute, `limit` at most 15).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from pipeline import (
    AccessLostError,
    AuthError,
    BearerToken,
    Clock,
    ConfigError,
    HttpClient,
    InvalidCursorError,
    MissingTokenError,
    RateLimitedError,
    Regime,
    RequestBudget,
    SourceError,
    TransientError,
)

DEFAULT_API_URL = "https://slack.com/api/"
TOKEN_ENV = "SLACK_BOT_TOKEN"

REGIMES = {
    "tier3": Regime(
        "tier3",
        {
            "conversations.history": 50,
            "conversations.replies": 50,
            "conversations.list": 20,
            "users.list": 20,
        },
        limit=200,
        burst=10,
    ),
    "non_marketplace": Regime(
        "non_marketplace",
        {
            "conversations.history": 1,
            "conversations.replies": 1,
            "conversations.list": 20,
            "users.list": 20,
        },
        limit=15,
        burst=1,
    ),
}

_AUTH = {
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "missing_scope",
}
_ACCESS = {"not_in_channel", "channel_not_found", "thread_not_found"}
_TRANSIENT = {"fatal_error", "internal_error", "request_timeout", "service_unavailable"}


def check(response: httpx.Response) -> None:
    """Raise the error a Slack `ok: false` body stands for (vendors.md §1.5)."""
    try:
        body = response.json()
    except ValueError:
        raise TransientError(
            f"Slack returned a body that is not JSON (HTTP {response.status_code})"
        ) from None
    if body.get("ok", False):
        return
    code = str(body.get("error", "unknown_error"))
    method = response.request.url.path.rsplit("/", 1)[-1]
    message = f"{method}: {code}"
    if code in _AUTH:
        raise AuthError(f"{message}: check {TOKEN_ENV} (or use --sandbox)")
    if code in _ACCESS:
        raise AccessLostError(message)
    if code == "invalid_cursor":
        raise InvalidCursorError(message)
    if code == "ratelimited":
        raise RateLimitedError(message, retry_after_s=None)
    if code in _TRANSIENT:
        raise TransientError(message)
    raise SourceError(message)


class SlackClient:
    """`call(method, **params)` → the decoded body; paging is the stream's job."""

    def __init__(self, http: HttpClient, regime: Regime) -> None:
        self.http = http
        self.regime = regime

    @property
    def limit(self) -> int:
        return self.regime.limit or 200

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        data = {k: str(v) for k, v in params.items() if v is not None}
        response = self.http.request("POST", method, data=data, budget_key=method)
        body: dict[str, Any] = response.json()
        return body

    def stats(self) -> dict[str, int]:
        s = self.http.stats
        return {"api_calls": s.api_calls, "rate_limited": s.rate_limited, "retries": s.retries}


def open_client(
    settings: Mapping[str, Any],
    config: Mapping[str, Any],
    clock: Clock,
    on_wait: Callable[[float, str], None] | None = None,
) -> SlackClient:
    """A client from run settings (sandbox, CLI) and subscription config (regime, budget, token)."""
    regime_name = str(config.get("regime", "tier3"))
    if regime_name not in REGIMES:
        raise ConfigError(f"unknown Slack regime {regime_name!r}; use one of {', '.join(REGIMES)}")
    token_env = str(config.get("token_env", TOKEN_ENV))
    token = settings.get("token") or os.environ.get(token_env)
    if not token:
        raise MissingTokenError(
            f"{token_env} is not set: export a Slack bot token, or run with --sandbox"
        )
    http = HttpClient(
        settings.get("api_url")
        or config.get("api_url")
        or os.environ.get("SLACK_API_URL")
        or DEFAULT_API_URL,
        auth=BearerToken(token=str(token)),
        regime=REGIMES[regime_name],
        budget=RequestBudget(config.get("max_requests")),
        max_wait_s=float(config.get("max_wait_s", 30.0)),
        clock=settings.get("http_clock") or clock,
        check=check,
        on_wait=on_wait,
        transport=settings.get("transport"),
        buckets=settings.get("buckets"),
    )
    return SlackClient(http, REGIMES[regime_name])
