"""Integration sync pipeline: keep a local SQL copy of vendor data and say exactly what changed.

This module is the public surface: connectors import only from here (a test pins it). Test fakes
(`FakeClock`, `ScriptedSource`, the contract suite) live in `pipeline.testing`.
"""

from pipeline.changes import KEEP_CHECKPOINT, Change, Checkpoint, Page, Sweep
from pipeline.connector import Connector, ConnectorConfig, connector
from pipeline.consumer import Event, OutboxConsumer
from pipeline.errors import (
    AccessLostError,
    AuthError,
    BudgetSpent,
    ConfigError,
    IncompleteError,
    InvalidCursorError,
    MalformedPageError,
    PageTooLargeError,
    PipelineError,
    RateLimitedError,
    SourceError,
    TransientError,
)
from pipeline.http import ApiKey, BearerToken, Clock, HttpClient, Regime, RetryPolicy
from pipeline.http.paginators import (
    CursorPaginator,
    LinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageRequest,
    RelayPaginator,
)
from pipeline.ports import ChangeSource, EntityLookup
from pipeline.registry import SourceContext, Stream
from pipeline.schema import entity_table
from pipeline.streams import Column, RestStream, ScopeCheckpoint
from pipeline.webhooks.handler import PayloadError, SignatureError, WebhookChanges, WebhookRequest
from pipeline.webhooks.signing import check_hmac, check_window

__version__ = "0.2.0"

__all__ = [
    "KEEP_CHECKPOINT",
    "AccessLostError",
    "ApiKey",
    "AuthError",
    "BearerToken",
    "BudgetSpent",
    "Change",
    "ChangeSource",
    "Checkpoint",
    "Clock",
    "Column",
    "ConfigError",
    "Connector",
    "ConnectorConfig",
    "CursorPaginator",
    "EntityLookup",
    "Event",
    "HttpClient",
    "IncompleteError",
    "InvalidCursorError",
    "LinkPaginator",
    "MalformedPageError",
    "OffsetPaginator",
    "OutboxConsumer",
    "Page",
    "PageNumberPaginator",
    "PageRequest",
    "PageTooLargeError",
    "PayloadError",
    "PipelineError",
    "RateLimitedError",
    "Regime",
    "RelayPaginator",
    "RestStream",
    "RetryPolicy",
    "ScopeCheckpoint",
    "SignatureError",
    "SourceContext",
    "SourceError",
    "Stream",
    "Sweep",
    "TransientError",
    "WebhookChanges",
    "WebhookRequest",
    "check_hmac",
    "check_window",
    "connector",
    "entity_table",
]
