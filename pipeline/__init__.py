"""Integration sync pipeline: keep a local SQL copy of vendor data and say exactly what changed.

This module is the public surface: connectors import only from here.
"""

from pipeline.changes import Change, Checkpoint, Page, Sweep
from pipeline.consumer import Event, OutboxConsumer, OutboxReader, consumer_lags
from pipeline.errors import (
    AccessLostError,
    AuthError,
    BudgetSpent,
    ChangeError,
    ConfigError,
    InvalidCursorError,
    MissingTokenError,
    PipelineError,
    RateLimitedError,
    SourceError,
    TransientError,
    redact,
    register_secret,
)
from pipeline.http import (
    BearerToken,
    CallStats,
    Clock,
    FakeClock,
    HttpClient,
    Regime,
    RequestBudget,
    RetryPolicy,
    SystemClock,
)
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.ports import ChangeSource, EntityLookup
from pipeline.registry import SourceContext, Stream, get_stream, register
from pipeline.subscriptions import Subscription

__all__ = [
    "AccessLostError",
    "AuthError",
    "BearerToken",
    "BudgetSpent",
    "CallStats",
    "Change",
    "ChangeError",
    "ChangeSource",
    "Checkpoint",
    "Clock",
    "ConfigError",
    "EntityLookup",
    "Event",
    "FakeClock",
    "HttpClient",
    "InvalidCursorError",
    "MissingTokenError",
    "Orchestrator",
    "OutboxConsumer",
    "OutboxReader",
    "Page",
    "PipelineError",
    "RateLimitedError",
    "Regime",
    "RequestBudget",
    "RetryPolicy",
    "RunOptions",
    "SourceContext",
    "SourceError",
    "Stream",
    "Subscription",
    "Sweep",
    "SystemClock",
    "TransientError",
    "consumer_lags",
    "get_stream",
    "redact",
    "register",
    "register_secret",
]
