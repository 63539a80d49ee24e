"""Webhook handlers by connector name: the connector's `webhook` slot, or `register_webhook`."""

from __future__ import annotations

from typing import cast

from pipeline.errors import ConfigError
from pipeline.registry import connectors, get_connector
from pipeline.webhooks.handler import WebhookHandler

_HANDLERS: dict[str, WebhookHandler] = {}


def register_webhook(handler: WebhookHandler) -> WebhookHandler:
    """Serve `POST /webhooks/<handler.connector>` with this handler (for a connector declared
    without `connector()`; one declared with it sets `its_connector.webhook = handler`)."""
    _HANDLERS[handler.connector] = handler
    return handler


def webhook_handler(name: str) -> WebhookHandler | None:
    if name in _HANDLERS:
        return _HANDLERS[name]
    try:
        found = get_connector(name).webhook
    except ConfigError:
        return None
    return cast(WebhookHandler | None, found)


def webhook_connectors() -> list[str]:
    declared = {c.name for c in connectors() if c.webhook is not None}
    return sorted(declared | _HANDLERS.keys())
