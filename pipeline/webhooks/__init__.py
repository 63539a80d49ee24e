"""Webhooks (DESIGN §8): the handler API connectors implement, the inbox, receiver and applier.

Connectors use the names `pipeline` re-exports: `WebhookRequest`, `WebhookChanges`,
`SignatureError`, `PayloadError`, `check_hmac`, `check_window`; a handler is attached with
`my_connector.webhook = MyWebhooks()` (or `register_webhook` without `connector()`).
"""

from pipeline.webhooks.handler import (
    PayloadError,
    SignatureError,
    WebhookChanges,
    WebhookError,
    WebhookHandler,
    WebhookRequest,
)
from pipeline.webhooks.registry import register_webhook, webhook_connectors, webhook_handler
from pipeline.webhooks.signing import check_hmac, check_window, signature_hex

__all__ = [
    "PayloadError",
    "SignatureError",
    "WebhookChanges",
    "WebhookError",
    "WebhookHandler",
    "WebhookRequest",
    "check_hmac",
    "check_window",
    "register_webhook",
    "signature_hex",
    "webhook_connectors",
    "webhook_handler",
]
