"""`pipeline schedule [--metrics-port N]`: import pipeline.toml, serve metrics, claim and run."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError
from pipeline.http.clock import SystemClock
from pipeline.metrics import start_metrics_server
from pipeline.scheduler import Scheduler, ScheduleSettings
from pipeline.subscription_store import SubscriptionStore


def serve_schedule(engine: Engine, config: PipelineConfig | None, metrics_port: int | None) -> int:
    """Run until SIGTERM/SIGINT; the TOML's subscriptions are imported first (idempotent)."""
    if config is not None and config.subscriptions:
        added, changed = SubscriptionStore(engine).import_config(config, SystemClock().now())
        print(f"pipeline.toml: {added} subscriptions added, {changed} changed")
    if metrics_port is not None:
        try:
            start_metrics_server(metrics_port)
        except OSError as exc:
            raise ConfigError(f"--metrics-port {metrics_port}: {exc.strerror or exc}") from None
    url = engine.url.render_as_string(hide_password=True)
    print(f"claiming due subscriptions in {url}; Ctrl-C or SIGTERM to stop", flush=True)
    Scheduler(engine, ScheduleSettings.from_config(config)).serve_forever()
    print("stopped")
    return 0
