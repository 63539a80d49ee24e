"""The connector-facing webhook API (DESIGN §8): what a connector implements to receive pushes.

A connector hands `register_webhook` one `WebhookHandler`. `pipeline serve` then, for each request:
checks the signature (`verify`), answers a handshake (`handshake`), maps the payload to the changes
of one stream (`changes`), and stores the raw body under its delivery id (`delivery_id`). The
changes are applied later, from the inbox, through the page transaction polling uses.

A handler may also define `in_scope(change, config) -> bool`: at apply time, a change the
subscription (its `config`) does not sync is dropped, as a poll of that subscription would never
have seen it (e.g. a channel or repository outside its config).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.changes import Change
from pipeline.errors import PipelineError


class WebhookError(PipelineError):
    """A webhook request was refused."""


class SignatureError(WebhookError):
    """The signature is missing, wrong or stale: answered 401, nothing stored."""


class PayloadError(WebhookError):
    """The body is not a payload this connector understands: answered 400, nothing stored."""


@dataclass(frozen=True)
class WebhookRequest:
    """One received request: header names in lower case, the raw body as bytes."""

    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class WebhookChanges:
    """What one delivery means: changes to one stream (the stream's short name, e.g. `messages`)."""

    stream: str
    changes: Sequence[Change]


class WebhookHandler(Protocol):
    """A connector's webhooks: `connector` names the route (`POST /webhooks/<connector>`).

    `secret_env` is the variable holding the signing secret when the tenant's subscription names
    none (`signing_secret_env`). Every method but `verify` sees the parsed JSON payload; each
    raises `PayloadError` on a payload it cannot read.
    """

    connector: str
    secret_env: str

    def verify(self, request: WebhookRequest, secret: str, now: float) -> None:
        """Raise `SignatureError` unless the request is signed with `secret` and fresh at `now`."""
        ...

    def handshake(self, payload: Any) -> Mapping[str, Any] | None:
        """The answer to a vendor handshake (a URL verification challenge), or None."""
        ...

    def delivery_id(self, request: WebhookRequest, payload: Any) -> str:
        """The vendor's id of this delivery: retries of one delivery carry the same id."""
        ...

    def changes(self, payload: Any) -> WebhookChanges | None:
        """The changes a delivery carries, or None for an event this connector does not handle."""
        ...
