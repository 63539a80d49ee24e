"""`connector()`: one vendor, declared once — base URL, auth, error envelope, regimes, config, streams.

    acme = connector("acme", base_url="https://api.acme.test/v2/", auth=BearerToken(env="ACME_TOKEN"))

    @acme.stream
    class Tickets(RestStream[Ticket]): ...

The connector owns what every stream of a vendor shares: how to build its `HttpClient` for a run
(token from the subscription's `token_env` or the declared variable, the API URL from config, the
environment or the default, the `check(response)` hook for errors inside 200 bodies, the regime),
the pydantic model that validates a subscription's config keys, its sandbox and its migrations.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import ConfigError
from pipeline.http import BearerToken, HttpClient, Regime, RequestBudget, RetryPolicy
from pipeline.http.client import Rejected
from pipeline.http.pacing import Pacer
from pipeline.registry import (
    SourceContext,
    Stream,
    import_object,
    register,
    register_connector,
)

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
Check = Callable[[httpx.Response], None]
S = TypeVar("S")


class ConnectorConfig(BaseModel):
    """Subscription config keys every connector accepts; a connector subclasses it for its own.

    Strict: a string where a number belongs is an error naming the key, and `token_env` must
    name a variable (a literal token is refused, so it never lands in a file or the database).
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    token_env: str | None = Field(default=None, description="variable holding the vendor token")
    signing_secret_env: str | None = None
    api_url: str | None = None
    regime: str | None = None
    max_requests: int | None = Field(default=None, gt=0)
    max_wait_s: float = Field(default=30.0, ge=0)
    max_delete_fraction: float = Field(default=0.5, gt=0, le=1)
    full_walk_every: str | int | None = Field(
        default=None, description="a full listing (deletion check) every N runs or a duration"
    )

    @field_validator("token_env", "signing_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                "must name an environment variable (e.g. ACME_TOKEN), never hold a secret"
            )
        return value


@dataclass
class Connector:
    """A vendor: what its streams share. Build one with `connector()`."""

    name: str
    base_url: str
    auth: BearerToken | None = None
    api_url_env: str | None = None
    check: Check | None = None
    regimes: Mapping[str, Regime] = field(default_factory=dict)
    config: type[ConnectorConfig] = ConnectorConfig
    sandbox: str | None = None
    migrations: Path | None = None
    description: str = ""
    webhook: Any = None
    home: Path | None = None
    """The connector package's folder (its migrations live in `migrations/versions/` there)."""
    streams: list[Stream] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)
    retry: RetryPolicy | None = None
    rejected: Rejected | None = None
    check_errors: bool = False

    def stream(self, cls: type[S]) -> type[S]:
        """Class decorator: declare a `RestStream` subclass as a stream of this connector."""
        from pipeline.streams import declare

        self.add(declare(self, cls))  # type: ignore[arg-type]
        return cls

    def add(self, stream: Stream) -> Stream:
        """Register a stream built by hand (a source that is not a plain `RestStream`)."""
        self.streams.append(register(stream))
        return stream

    def validate(self, raw: Mapping[str, Any], origin: str = "config") -> ConnectorConfig:
        """The subscription's config as this connector's model; a mistake is one `ConfigError`."""
        try:
            return self.config.model_validate(dict(raw))
        except ValidationError as exc:
            raise ConfigError(f"{origin}: {config_error(exc)}") from None

    def regime(self, config: ConnectorConfig) -> Regime | None:
        if not self.regimes:
            return None
        name = config.regime or next(iter(self.regimes))
        if name not in self.regimes:
            known = ", ".join(self.regimes)
            raise ConfigError(f"regime: unknown {self.name} regime {name!r}; use one of {known}")
        return self.regimes[name]

    def client(self, ctx: SourceContext, config: ConnectorConfig | None = None) -> HttpClient:
        """The run's `HttpClient`: sandbox settings first, then config, environment, defaults."""
        config = config or self.validate(ctx.subscription.config)
        settings = ctx.settings
        regime, clock = self.regime(config), settings.get("http_clock") or ctx.clock
        pacer = ctx.pacer or Pacer()  # the engine's is shared by its runs and stored
        return HttpClient(
            str(settings.get("api_url") or config.api_url or self._env_url() or self.base_url),
            auth=self._auth(settings, config),
            regime=regime,
            pacer=pacer.scope(ctx.subscription.tenant_id, self.name, regime, clock),
            budget=RequestBudget(config.max_requests),
            max_wait_s=config.max_wait_s,
            clock=clock,
            check=self.check,
            rejected=self.rejected,
            retry=self.retry,
            headers=self.headers,
            check_errors=self.check_errors,
            on_wait=ctx.on_wait,
            transport=settings.get("transport"),
            guard=ctx.guard,  # a lost lease stops the vendor calls at once
        )

    def _env_url(self) -> str | None:
        return os.environ.get(self.api_url_env) if self.api_url_env else None

    def _auth(self, settings: Mapping[str, Any], config: ConnectorConfig) -> BearerToken | None:
        if self.auth is None:
            return None
        if settings.get("token"):
            return self.auth.using(token=str(settings["token"]))
        auth = self.auth.using(env=config.token_env)
        _ = auth.token  # a missing token fails now (MissingTokenError), before anything is written
        return auth

    def sandbox_module(self) -> Any:
        if self.sandbox is None:
            raise ConfigError(f"connector {self.name!r} has no sandbox")
        return import_object(self.sandbox)


def connector(
    name: str,
    *,
    base_url: str,
    auth: BearerToken | None = None,
    api_url_env: str | None = None,
    check: Check | None = None,
    regimes: Mapping[str, Regime] | None = None,
    config: type[ConnectorConfig] = ConnectorConfig,
    sandbox: str | None = None,
    migrations: Path | str | None = None,
    description: str = "",
    headers: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    rejected: Rejected | None = None,
    check_errors: bool = False,
) -> Connector:
    """Declare a connector (once per vendor package) and register it.

    `migrations` is the connector's Alembic version location; by default the `migrations/versions`
    folder next to the calling module, when there is one. `headers` go on every request;
    `retry` replaces the default `RetryPolicy`; `rejected(response, now)` reads non-2xx answers
    first (see `HttpClient`). `check_errors` lets `check` read 4xx answers too (GraphQL APIs put
    rate limits and auth failures in a 400's `errors`).
    """
    caller = sys._getframe(1).f_globals.get("__file__")
    home = Path(caller).parent if caller else None
    beside = home / "migrations" / "versions" if home else None
    found = Path(migrations) if migrations is not None else beside
    made = Connector(
        name,
        base_url,
        auth,
        api_url_env,
        check,
        dict(regimes or {}),
        config,
        sandbox,
        found if found is not None and found.is_dir() else None,
        description,
        home=home,
    )
    made.headers, made.retry, made.rejected = dict(headers or {}), retry, rejected
    made.check_errors = check_errors
    return register_connector(made)


def config_error(exc: ValidationError) -> str:
    """The first pydantic error as `key: message` (and how many more)."""
    error = exc.errors()[0]
    key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in error["loc"])
    key = key.replace(".[", "[") or "config"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{key}: {message}{more}"
