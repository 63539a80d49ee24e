"""`pipeline schedule` checks every enabled subscription before it starts (DESIGN §9).

The file itself (keys, types, streams, triggers) is validated by `pipeline.config`; here each
subscription's change source is opened once, without calling the vendor, which is where a stream
checks its own settings (an unknown rate regime, an unset token variable). The first mistake is a
`ConfigError` naming the file and the subscription, so the scheduler exits 2 at once instead of
failing on every trigger.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipeline.config import PipelineConfig, SubscriptionConfig
from pipeline.errors import ConfigError
from pipeline.http.clock import SystemClock
from pipeline.registry import SourceContext, get_stream


class _NoLookup:
    """Opening a source reads nothing; a lookup during preflight would be a bug."""

    def lookup(self, keys: Iterable[str]) -> dict[str, Mapping[str, Any]]:
        raise RuntimeError("preflight never reads entities")

    def count_live(
        self, by: str, values: Iterable[Any], where: Mapping[str, Any]
    ) -> dict[Any, int]:
        raise RuntimeError("preflight never reads entities")


def check_subscriptions(config: PipelineConfig, path: Path | None) -> None:
    """Open each enabled subscription's source; raise the first mistake as one line."""
    for index, declared in enumerate(config.subscriptions):
        if declared.enabled:
            _check(declared, f"{path or 'pipeline.toml'}: subscriptions[{index}]")


def _check(declared: SubscriptionConfig, where: str) -> None:
    stream = get_stream(declared.stream)
    context = SourceContext(declared.subscription(), SystemClock(), _NoLookup())
    try:
        stream.open_source(context)  # sends nothing; dropped at once
    except ConfigError as exc:
        raise ConfigError(f"{where} ({declared.stream}/{declared.tenant}): {exc}") from None
