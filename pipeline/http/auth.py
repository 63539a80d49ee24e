"""Bearer-token auth as an `httpx.Auth`: the token is resolved lazily and never shown.

A connector is declared at import time (`BearerToken(env="ACME_TOKEN")`) long before a run needs
the token, so the variable is read on the first request; a missing one raises `MissingTokenError`
naming it. Every token is registered with `pipeline.errors.redact` the moment it is known.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import httpx

from pipeline.errors import MissingTokenError, register_secret


class BearerToken(httpx.Auth):
    """Send `Authorization: Bearer <token>`, from `token` or else the environment variable `env`."""

    header = "Authorization"
    scheme = "Bearer"

    def __init__(self, token: str | None = None, env: str | None = None) -> None:
        self.env = env
        self._token = token or None
        register_secret(self._token)

    def using(self, token: str | None = None, env: str | None = None) -> BearerToken:
        """The same scheme with another token or variable (a subscription's `token_env`)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        BearerToken.__init__(clone, token, env or self.env)
        return clone

    @property
    def token(self) -> str:
        """The token, read from `env` on first use; raises `MissingTokenError` if there is none."""
        if self._token is None:
            self._token = self._from_env()
            register_secret(self._token)
        return self._token

    def _from_env(self) -> str:
        if self.env is None:
            raise MissingTokenError("no token given: pass a token or the name of its variable")
        value = os.environ.get(self.env, "").strip()
        if not value:
            raise MissingTokenError(f"{self.env} is not set: export it, or run with --sandbox")
        return value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        value = f"{self.scheme} {self.token}" if self.scheme else self.token
        request.headers[self.header] = value
        yield request

    def __repr__(self) -> str:
        name = type(self).__name__
        if self.env is not None:
            return f"{name}(env={self.env!r})"
        return f"{name}(token=[REDACTED])" if self._token else f"{name}()"


class ApiKey(BearerToken):
    """A key sent as-is in a header (`Authorization: <key>`, as some vendors' personal keys are)."""

    def __init__(
        self,
        token: str | None = None,
        env: str | None = None,
        header: str = "Authorization",
        scheme: str = "",
    ) -> None:
        super().__init__(token, env)
        self.header = header
        self.scheme = scheme
