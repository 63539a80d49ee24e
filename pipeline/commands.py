"""What each `pipeline` sub-command does; `cli.py` only parses and maps errors to exit codes."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Engine

from pipeline import read
from pipeline.config import config_path, load_config
from pipeline.db import create_engine, require_database
from pipeline.errors import ConfigError
from pipeline.http.clock import SystemClock
from pipeline.migrate import ensure_schema, generate, upgrade
from pipeline.orchestrator import Orchestrator, RunOptions
from pipeline.preflight import check_subscriptions
from pipeline.progress import Reporter
from pipeline.registry import get_connector, get_stream, streams
from pipeline.show import json_line
from pipeline.stopping import GracefulStop
from pipeline.subscriptions import DEFAULT_TENANT, SqlCheckpoints, Subscription

EXIT_CODES = {
    "success": 0,
    "no_changes": 0,
    "throttled": 0,
    "skipped": 0,
    "partial": 3,
    "failed": 1,
    "lost_lease": 1,
    "stopped": 130,
}


_engines: list[Engine] = []  # opened by the running command; disposed when it returns


READ_COMMANDS = frozenset({"runs", "state", "events", "entities"})
"""Commands that only read: they refuse to create an empty database (`require_database`)."""


def dispatch(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)  # commands in their own modules: (args, engine)
    try:
        if handler is not None:
            return int(handler(args, open_engine(args)))
        return int(globals()[f"cmd_{args.command}"](args))
    finally:  # `main()` is also called in-process (tests, embedding): leave no connection open
        while _engines:
            _engines.pop().dispose()


def open_engine(
    args: argparse.Namespace, migrate: bool = True, pool_size: int | None = None
) -> Engine:
    if args.command in READ_COMMANDS:
        require_database(args.db)
    pool = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 10}
    engine = create_engine(args.db, **pool)
    _engines.append(engine)
    if migrate:
        ensure_schema(engine)
    return engine


def subscription_for(
    stream_name: str, tenant: str | None, overrides: Sequence[str] = ()
) -> Subscription:
    """The configured subscription for a stream (and tenant), else a default one; `--set` on top."""
    stream = get_stream(stream_name)
    config = load_config()
    declared = config.find(stream.full_name, tenant) if config else None
    if declared is not None:
        sub = declared.subscription()
    else:
        sub = Subscription(stream.connector, stream.name, tenant_id=tenant or DEFAULT_TENANT)
    if not overrides:
        return sub
    merged = {**sub.config, **parse_settings(overrides, get_connector(stream.connector).config)}
    get_connector(stream.connector).validate(merged, "--set")
    return replace(sub, config=merged)


def parse_settings(pairs: Sequence[str], model: type[BaseModel]) -> dict[str, Any]:
    """`KEY=VALUE` pairs → config values: JSON where it parses, `a,b` for list keys, else text."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: write KEY=VALUE (e.g. --set repos=owner/name)")
        field = model.model_fields.get(key.strip())
        found[key.strip()] = _setting_value(text, is_list=field is not None and _is_list(field))
    return found


def _setting_value(text: str, is_list: bool) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if is_list and not isinstance(value, list):
        return [part.strip() for part in str(text).split(",") if part.strip()]
    return value


def _is_list(field: Any) -> bool:
    return "list[" in str(field.annotation)


def cmd_schedule(args: argparse.Namespace) -> int:
    from pipeline.schedule_cli import serve_schedule

    config = load_config()  # a bad file fails here, before the database is touched
    if config is not None and config.subscriptions:
        check_subscriptions(config, config_path())
    return serve_schedule(open_engine(args), config, args.metrics_port)


def cmd_run(args: argparse.Namespace) -> int:
    stream = get_stream(args.stream)
    if args.enqueue:
        from pipeline.subscription_store import SubscriptionStore

        store = SubscriptionStore(open_engine(args))
        row = store.find(stream.full_name, args.tenant or DEFAULT_TENANT, args.name)
        store.enqueue(row["id"], SystemClock().now())
        print(f"{stream.full_name}/{row['tenant_id']}/{args.name}: due now")
        return 0
    settings: dict[str, Any] = {}
    sub = subscription_for(stream.full_name, args.tenant, args.set or ())
    if args.sandbox:
        settings.update(sandbox_settings(stream.connector))
    engine = open_engine(args)
    clock = SystemClock()
    if args.full_refresh:
        SqlCheckpoints().reset(engine, sub.id, clock.now())
    reporter = Reporter(stream.full_name, live=False if args.json else None)
    with GracefulStop() as stop, reporter:
        options = RunOptions(
            settings=settings,
            on_page=reporter.on_page,
            on_wait=reporter.on_wait,
            full_refresh=args.full_refresh,
            should_stop=stop.is_set,
        )
        config = load_config()
        if config is not None:  # the file's lease TTL, as `pipeline schedule` uses it
            options.lease_ttl_s = config.lease_ttl_s
        run = Orchestrator(engine, clock).run(stream, sub, options=options)
    print(json_line(read.run(engine, run.id) or {}) if args.json else reporter.summary(run))
    if run.status == "stopped":
        print(run.error, file=sys.stderr)  # "stopped after page N; the next run resumes there"
    elif run.error:
        print(f"error: {run.error}", file=sys.stderr)
    return EXIT_CODES[run.status]


def sandbox_settings(connector: str) -> dict[str, Any]:
    """Settings that point a connector at its seeded in-process sandbox (zero setup)."""
    settings: dict[str, Any] = get_connector(connector).sandbox_module().in_process_settings()
    return settings


def cmd_state(args: argparse.Namespace) -> int:
    stream = get_stream(args.stream)
    sub = subscription_for(stream.full_name, args.tenant)
    engine = open_engine(args)
    if args.action == "reset":
        found = SqlCheckpoints().reset(engine, sub.id, SystemClock().now())
        print(
            f"{stream.full_name}: checkpoint reset"
            if found
            else f"{stream.full_name}: nothing stored yet"
        )
        return 0
    with engine.connect() as conn:
        checkpoint = SqlCheckpoints().get(conn, sub.id)
    print(json.dumps(checkpoint, indent=2, sort_keys=True))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pipeline.serve import ServeOptions, Service, bind, describe, pool_size
    from pipeline.webhooks import webhook_connectors

    options = ServeOptions(apply=not args.no_apply)
    engine = open_engine(args, pool_size=pool_size(options))
    sock = bind(args.host, args.port)
    print(describe(args.host, sock.getsockname()[1], webhook_connectors()), flush=True)
    Service(engine, options).run(sock)
    print("stopped")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    if args.generate:
        with tempfile.TemporaryDirectory() as scratch:
            path = generate(args.generate, args.message, Path(scratch))
        print(f"wrote {path}")
        return 0
    engine = open_engine(args, migrate=False)
    upgrade(engine)
    print(f"migrated {engine.url.render_as_string(hide_password=True)} to the latest schema")
    return 0


def cmd_connectors(args: argparse.Namespace) -> int:
    for stream in streams():
        if stream.connector != "testing":
            print(f"{stream.full_name:<20} {stream.description}")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    module = get_connector(args.connector).sandbox_module()
    options = parse_settings(args.set or (), BaseModel)
    seed = module.DEFAULT_SEED if args.seed is None else args.seed

    def ready(url: str) -> None:
        print(f"{args.connector} sandbox on {url} (seed {seed}, token {module.TOKEN})", flush=True)

    if args.webhook_url:
        options["webhook_url"] = args.webhook_url
    module.serve(port=args.port, seed=seed, host=args.host, on_ready=ready, **options)
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from pipeline.events_cli import handle_events

    return handle_events(args, open_engine(args))


def cmd_subscriptions(args: argparse.Namespace) -> int:
    from pipeline.subscriptions_cli import handle_subscriptions

    return handle_subscriptions(args, open_engine(args))
