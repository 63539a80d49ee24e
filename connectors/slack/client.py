"""The Slack Web API envelope on the shared HTTP toolkit: `ok: false` bodies become our errors.

Slack reports errors inside HTTP 200 bodies (vendors.md §1.2, §1.5); `check` translates them at
this one boundary. Regimes follow vendors.md §1.6: `tier3` (the default) and `non_marketplace`
(conversations.history / replies at 1 request per minute, `limit` at most 15).
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field

from pipeline import (
    AccessLostError,
    AuthError,
    BearerToken,
    ConnectorConfig,
    HttpClient,
    InvalidCursorError,
    RateLimitedError,
    Regime,
    SourceContext,
    SourceError,
    TransientError,
    connector,
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
        fixed=True,  # vendors.md §1.6: probing past 1/minute costs a minute per 429
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


class SlackConfig(ConnectorConfig):
    """Subscription keys of the Slack streams (DESIGN §7)."""

    channels: list[str] | None = Field(default=None, description="default: every member channel")
    lookback_days: float = Field(default=7, gt=0)


slack = connector(
    "slack",
    base_url=DEFAULT_API_URL,
    api_url_env="SLACK_API_URL",
    auth=BearerToken(env=TOKEN_ENV),
    check=check,
    regimes=REGIMES,
    config=SlackConfig,
    sandbox="connectors.slack.sandbox",
    description="Slack Web API: messages with threads, channels, users",
)


def page_limit(http: HttpClient) -> int:
    """The `limit` to send: the regime's (non-Marketplace: 15, vendors.md §1.6), else 200."""
    return (http.regime.limit if http.regime else None) or 200


def open_client(ctx: SourceContext, config: SlackConfig) -> SlackClient:
    """A client from run settings (sandbox, CLI) and subscription config (regime, budget, token)."""
    http = slack.client(ctx, config)
    assert http.regime is not None  # Slack declares regimes; one is always chosen
    return SlackClient(http, http.regime)
