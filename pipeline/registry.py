"""Connectors and streams by name (`<connector>-<stream>`); registration is explicit, no discovery magic.

A connector module calls `connector("acme", …)` and declares each stream with `@acme.stream`.
Connector packages are found through the entry-point group `pipeline.connectors` (the shipped
ones register the same way as a third party's); the SQL sink through `pipeline.sinks`. Asking for
an unknown name raises `UnknownStreamError`, whose message lists the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel

from pipeline.errors import ConfigError, UnknownStreamError
from pipeline.events import register_entity
from pipeline.http.clock import Clock
from pipeline.http.pacing import Pacer
from pipeline.ports import ChangeSource, EntityLookup, SinkFactory
from pipeline.subscriptions import Subscription

if TYPE_CHECKING:
    from pipeline.connector import Connector

CONNECTOR_GROUP = "pipeline.connectors"
SINK_GROUP = "pipeline.sinks"


@dataclass
class SourceContext:
    """What a stream needs to open its change source for one run."""

    subscription: Subscription
    clock: Clock
    lookup: EntityLookup
    settings: Mapping[str, Any] = field(default_factory=dict)
    on_wait: Callable[[float, str], None] | None = None
    full_refresh: bool = False
    guard: Callable[[], None] | None = None
    """Call before each vendor request: raises once the run can no longer commit (lease lost)."""
    pacer: Pacer | None = None
    """The engine's adaptive pacing, shared by its runs and stored (`pipeline.http.pacing`)."""


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
_CONNECTORS: dict[str, Connector] = {}
_loaded: set[str] = set()


def register(stream: Stream) -> Stream:
    """Add a stream; its entity's event types become known to the outbox."""
    _STREAMS[stream.full_name] = stream
    register_entity(stream.entity)
    return stream


def register_connector(connector: Connector) -> Connector:
    _CONNECTORS[connector.name] = connector
    return connector


def get_stream(name: str) -> Stream:
    """The stream called `name`, or `UnknownStreamError` listing the known names."""
    load_connectors()
    try:
        return _STREAMS[name]
    except KeyError:
        known = ", ".join(sorted(s for s in _STREAMS if not s.startswith("testing-"))) or "none"
        raise UnknownStreamError(f"unknown stream {name!r}; known streams: {known}") from None


def get_connector(name: str) -> Connector:
    """The connector called `name`, or a `ConfigError` listing the known ones."""
    load_connectors()
    try:
        return _CONNECTORS[name]
    except KeyError:
        known = ", ".join(sorted(_CONNECTORS)) or "none"
        raise ConfigError(f"unknown connector {name!r}; known connectors: {known}") from None


def streams() -> list[Stream]:
    load_connectors()
    return [_STREAMS[name] for name in sorted(_STREAMS)]


def connectors() -> list[Connector]:
    load_connectors()
    return [_CONNECTORS[name] for name in sorted(_CONNECTORS)]


def load_connectors() -> None:
    """Import every package of the `pipeline.connectors` entry-point group, once."""
    if _loaded:
        return
    _loaded.add(CONNECTOR_GROUP)
    for point in sorted(entry_points(group=CONNECTOR_GROUP), key=lambda p: p.name):
        try:
            point.load()
        except Exception as exc:
            raise ConfigError(
                f"connector plugin {point.name!r} ({point.value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def default_sink_factory() -> SinkFactory:
    """The sink named `sql` in the `pipeline.sinks` entry-point group."""
    found = [p for p in entry_points(group=SINK_GROUP) if p.name == "sql"]
    if not found:
        raise ConfigError("no `sql` sink is installed (entry point group pipeline.sinks)")
    factory: SinkFactory = found[0].load()
    return factory


def import_object(path: str) -> Any:
    """`package.module:attribute` (or a module path) → the object."""
    module, _, attribute = path.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded
