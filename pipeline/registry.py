"""Connectors and streams by name (`slack-messages`); explicit registration, no discovery.

A connector module calls `connector("slack")` and registers each stream with `@slack.stream`;
`connectors/__init__.py` imports the connector modules. Asking for an unknown name raises
`UnknownStreamError`, whose message lists the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from pipeline.errors import UnknownStreamError
from pipeline.events import register_entity
from pipeline.http.clock import Clock
from pipeline.ports import ChangeSource, EntityLookup
from pipeline.subscriptions import Subscription


@dataclass
class SourceContext:
    """What a stream needs to open its change source for one run."""

    subscription: Subscription
    clock: Clock
    lookup: EntityLookup
    settings: Mapping[str, Any] = field(default_factory=dict)
    on_wait: Callable[[float, str], None] | None = None


@dataclass(frozen=True)
class Stream:
    """One entity kind of a connector: its table, canonical model and how to open its source."""

    connector: str
    name: str
    entity: str
    table: sa.Table
    model: type[BaseModel]
    open_source: Callable[[SourceContext], ChangeSource]
    volatile: frozenset[str] = frozenset()
    unordered: frozenset[str] = frozenset()
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.connector}-{self.name}"

    @property
    def provider(self) -> str:
        return self.connector


_STREAMS: dict[str, Stream] = {}


def register(stream: Stream) -> Stream:
    """Add a stream; its entity's event types become known to the outbox."""
    _STREAMS[stream.full_name] = stream
    register_entity(stream.entity)
    return stream


def get_stream(name: str) -> Stream:
    """The stream called `name`, or `UnknownStreamError` listing the known names."""
    _load_connectors()
    try:
        return _STREAMS[name]
    except KeyError:
        known = ", ".join(sorted(_STREAMS)) or "none"
        raise UnknownStreamError(f"unknown stream {name!r}; known streams: {known}") from None


def streams() -> list[Stream]:
    _load_connectors()
    return [_STREAMS[name] for name in sorted(_STREAMS)]


def _load_connectors() -> None:
    import connectors  # noqa: F401  (registers every shipped connector)
