"""`pipeline.toml`: the subscriptions an operator declares (path from `PIPELINE_CONFIG`).

Validated with pydantic; any mistake becomes one `ConfigError` line naming the file and the key.
Credentials are named by environment variable (`token_env`), never written in the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.durations import parse_duration
from pipeline.errors import ConfigError, UnknownStreamError
from pipeline.registry import get_connector, get_stream
from pipeline.subscriptions import DEFAULT_TENANT, Subscription

DEFAULT_PATH = "pipeline.toml"
ENGINE_KEYS = ("stream", "tenant", "name", "enabled", "schedule", "interval")


class SubscriptionConfig(BaseModel):
    """One `[[subscriptions]]` table: engine keys here, the rest validated by the stream's connector."""

    model_config = ConfigDict(extra="allow", strict=True)

    stream: str
    tenant: str = DEFAULT_TENANT
    name: str = "default"
    enabled: bool = True
    schedule: str | None = Field(default=None, description="cron, 5 fields")
    interval: str | None = Field(default=None, description="e.g. 5m")

    @field_validator("stream")
    @classmethod
    def _known_stream(cls, value: str) -> str:
        try:
            get_stream(value)
        except UnknownStreamError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(value)
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> SubscriptionConfig:
        if self.schedule and self.interval:
            raise ValueError("give either schedule (cron) or interval, not both")
        return self

    @model_validator(mode="after")
    def _connector_keys(self) -> SubscriptionConfig:
        stream = get_stream(self.stream)
        try:
            get_connector(stream.connector).validate(self.connector_config)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("config: ")) from None
        return self

    @property
    def connector_config(self) -> dict[str, Any]:
        """The keys the connector validates (everything but the engine's own)."""
        return dict(self.model_extra or {})

    def subscription(self) -> Subscription:
        stream = get_stream(self.stream)
        return Subscription(
            stream.connector,
            stream.name,
            self.tenant,
            self.name,
            self.connector_config,
            self.enabled,
        )

    @property
    def interval_s(self) -> float | None:
        return parse_duration(self.interval) if self.interval else None


class PipelineConfig(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    lease_ttl_s: float = Field(default=60, gt=0)  # strict: `workers = "8"` is refused
    workers: int = Field(default=8, gt=0, le=64)
    poll_interval_s: float = Field(default=1, gt=0, description="`pipeline schedule` idle poll")
    retry_base_s: float = Field(default=30, gt=0, description="first retry after a failed run")
    retry_cap_s: float = Field(default=1800, gt=0, description="longest retry backoff")
    max_run_s: float | None = Field(default=None, gt=0, description="a run stops after this")
    subscriptions: list[SubscriptionConfig] = []

    @model_validator(mode="after")
    def _no_duplicates(self) -> PipelineConfig:
        """Two tables for one (stream, tenant, name) would share one checkpoint and one lease."""
        first: dict[tuple[str, str, str], int] = {}
        for index, sub in enumerate(self.subscriptions):
            key = (sub.stream, sub.tenant, sub.name)
            if key in first:
                raise ValueError(
                    f"subscriptions[{index}]: duplicate of subscriptions[{first[key]}] "
                    f"({sub.stream}, tenant {sub.tenant}, name {sub.name}): remove it or give it "
                    "another name"
                )
            first[key] = index
        return self

    def find(self, stream: str, tenant: str | None) -> SubscriptionConfig | None:
        """The subscription `pipeline run STREAM [--tenant T]` means, if the file declares it."""
        found = [
            s
            for s in self.subscriptions
            if s.stream == stream and (tenant is None or s.tenant == tenant)
        ]
        tenants = sorted({s.tenant for s in found})
        if len(tenants) > 1:
            raise ConfigError(
                f"{stream} is configured for several tenants ({', '.join(tenants)}); "
                "pick one with --tenant"
            )
        if len(found) > 1:
            names = ", ".join(s.name for s in found)
            raise ConfigError(
                f"{stream} is configured {len(found)} times for tenant {tenants[0]} (names {names}); "
                "`pipeline run` runs one: remove the others here or let `pipeline schedule` run them"
            )
        return found[0] if found else None


def config_path() -> Path | None:
    """`PIPELINE_CONFIG`, else `pipeline.toml` if present."""
    explicit = os.environ.get("PIPELINE_CONFIG")
    if explicit:
        return Path(explicit)
    default = Path(DEFAULT_PATH)
    return default if default.exists() else None


def load_config(path: Path | None = None) -> PipelineConfig | None:
    """The validated file, or None when there is none; every mistake is one ConfigError line."""
    path = path or config_path()
    if path is None:
        return None
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file (set PIPELINE_CONFIG to a pipeline.toml)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in error["loc"]).replace(
        ".[", "["
    )
    message = str(error["msg"]).removeprefix("Value error, ")
    inner, sep, rest = message.partition(": ")
    if error["type"] == "value_error" and sep and inner.isidentifier():
        key, message = f"{key}.{inner}", rest  # a connector's key: subscriptions[0].repos
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    if not key:  # a check over the whole file names its own keys
        return message + (f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else "")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{key}: {message}{more}"
