"""Prometheus metrics of DESIGN §10, on one registry shared by `schedule` and `serve`.

`observe_run` is called once per finished run; `/metrics` is served from `REGISTRY` (see
`metrics_app` / `start_metrics_server`). Labels carry names only, never secrets.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import make_wsgi_app

REGISTRY = CollectorRegistry(auto_describe=True)

RUNS = Counter("pipeline_runs", "Finished runs.", ["stream", "tenant", "status"], registry=REGISTRY)
RECORDS = Counter(
    "pipeline_records", "Records applied, by operation.", ["stream", "operation"], registry=REGISTRY
)
API_CALLS = Counter("pipeline_api_calls", "Vendor API calls.", ["connector"], registry=REGISTRY)
RATE_LIMITED = Counter(
    "pipeline_rate_limited", "Vendor rate-limit answers.", ["connector"], registry=REGISTRY
)
RUN_DURATION = Histogram(
    "pipeline_run_duration_seconds",
    "Run wall time.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "pipeline_last_success_timestamp_seconds",
    "When a subscription last ended success or no_changes (Unix time).",
    ["subscription"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "pipeline_outbox_consumer_lag_events",
    "Outbox events a consumer has not acknowledged yet.",
    ["consumer"],
    registry=REGISTRY,
)

_OPERATIONS = ("created", "updated", "deleted", "noop", "failed")


def observe_run(stream: str, connector: str, run: Any) -> None:
    """Count one finished run (a `pipeline.ledger.Run`) on every metric it touches."""
    RUNS.labels(stream=stream, tenant=run.tenant_id, status=run.status).inc()
    for operation in _OPERATIONS:
        if run.counts.get(operation):
            RECORDS.labels(stream=stream, operation=operation).inc(run.counts[operation])
    API_CALLS.labels(connector=connector).inc(run.counts.get("api_calls", 0))
    RATE_LIMITED.labels(connector=connector).inc(run.counts.get("rate_limited", 0))
    if run.duration_ms is not None:
        RUN_DURATION.observe(run.duration_ms / 1000)
    if run.status in ("success", "no_changes") and run.completed_at is not None:
        LAST_SUCCESS.labels(subscription=run.subscription_id).set(run.completed_at.timestamp())


def metrics_app() -> Any:
    """A WSGI app serving `REGISTRY` (mount it, or wrap it for ASGI)."""
    return make_wsgi_app(REGISTRY)


def start_metrics_server(port: int, host: str = "127.0.0.1") -> None:
    """Serve `/metrics` on a daemon thread (`pipeline schedule --metrics-port N`)."""
    start_http_server(port, addr=host, registry=REGISTRY)
