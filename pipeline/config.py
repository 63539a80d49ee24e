"""`pipeline.toml`: the subscriptions an operator declares (path from `PIPELINE_CONFIG`).

Validated with pydantic; any mistake becomes one `ConfigError` line naming the file and the key.
Credentials are named by environment variable (`token_env`), never written in the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError, UnknownStreamError
from pipeline.registry import get_stream
from pipeline.subscriptions import DEFAULT_TENANT, Subscription

DEFAULT_PATH = "pipeline.toml"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`90s`, `5m`, `12h`, `7d` → seconds."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 12h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2)]


class SubscriptionConfig(BaseModel):
    """One `[[subscriptions]]` table."""

    model_config = ConfigDict(extra="forbid")

    stream: str
    tenant: str = DEFAULT_TENANT
    name: str = "default"
    enabled: bool = True
    schedule: str | None = Field(default=None, description="cron, 5 fields")
    interval: str | None = Field(default=None, description="e.g. 5m")
    channels: list[str] | None = None
    lookback_days: float = Field(default=7, gt=0)
    regime: str = "tier3"
    token_env: str | None = None
    api_url: str | None = None
    max_requests: int | None = Field(default=None, gt=0)
    max_wait_s: float = Field(default=30, ge=0)
    max_delete_fraction: float = Field(default=0.5, gt=0, le=1)

    @field_validator("stream")
    @classmethod
    def _known_stream(cls, value: str) -> str:
        try:
            get_stream(value)
        except UnknownStreamError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                "must name an environment variable (e.g. ACME_SLACK_TOKEN), never hold a token"
            )
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
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

    def subscription(self) -> Subscription:
        stream = get_stream(self.stream)
        keys = (
            "channels",
            "lookback_days",
            "regime",
            "token_env",
            "api_url",
            "max_requests",
            "max_wait_s",
            "max_delete_fraction",
        )
        config = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        return Subscription(
            stream.connector, stream.name, self.tenant, self.name, config, self.enabled
        )

    @property
    def interval_s(self) -> float | None:
        return parse_duration(self.interval) if self.interval else None


class PipelineConfig(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    lease_ttl_s: float = Field(default=60, gt=0)
    workers: int = Field(default=8, gt=0, le=64)
    subscriptions: list[SubscriptionConfig] = []

    def find(self, stream: str, tenant: str | None) -> SubscriptionConfig | None:
        """The subscription `pipeline run STREAM [--tenant T]` means, if the file declares it."""
        found = [
            s
            for s in self.subscriptions
            if s.stream == stream and (tenant is None or s.tenant == tenant)
        ]
        if len(found) > 1 and tenant is None:
            tenants = ", ".join(sorted({s.tenant for s in found}))
            raise ConfigError(
                f"{stream} is configured for several tenants ({tenants}); pick one with --tenant"
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
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{key}: {message}{more}"
