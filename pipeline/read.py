"""A read API over what the pipeline stored: runs, run items, entities and an entity's history.

For downstream code as much as for `pipeline runs` and `pipeline entities` (which are built on it):

    from pipeline import read
    from pipeline.db import create_engine

    engine = create_engine()
    for run in read.runs(engine, status="failed", since=timedelta(hours=1)):
        print(run["id"], run["stream"], run["error"])
    message = read.entity(engine, "acme-tickets", "T-7")
    for change in read.history(engine, "acme-tickets", "T-7"):
        print(change["at"], change["operation"], change["changed_fields"])

Every function returns plain dicts (JSON-ready but for datetimes) with the columns of DESIGN §5;
runs also carry `stream` (`acme-tickets`). Reads only: nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db import as_utc
from pipeline.errors import ConfigError
from pipeline.registry import Stream, get_stream
from pipeline.schema import ENTITY_COLUMNS
from pipeline.tables import RUN_STATUSES, run_items, subscriptions
from pipeline.tables import runs as runs_table

FIXED_COLUMNS = frozenset(ENTITY_COLUMNS)
_RUN_COLUMNS = (
    *runs_table.c,
    subscriptions.c.connector,
    subscriptions.c.stream.label("stream_name"),
)


def runs_query(
    *,
    status: str | None = None,
    stream: str | None = None,
    tenant: str | None = None,
    since: datetime | None = None,
) -> sa.Select[Any]:
    """The ledger, newest first, filtered (shared by `runs` and the CLI)."""
    query = sa.select(*_RUN_COLUMNS).join(
        subscriptions, subscriptions.c.id == runs_table.c.subscription_id
    )
    if status is not None:
        if status not in RUN_STATUSES:
            raise ConfigError(f"unknown status {status!r}; use one of {', '.join(RUN_STATUSES)}")
        query = query.where(runs_table.c.status == status)
    if stream is not None:
        found = get_stream(stream)
        query = query.where(
            subscriptions.c.connector == found.connector, subscriptions.c.stream == found.name
        )
    if tenant is not None:
        query = query.where(runs_table.c.tenant_id == tenant)
    if since is not None:
        query = query.where(runs_table.c.started_at >= since)
    return query.order_by(runs_table.c.started_at.desc(), runs_table.c.id)


def runs(
    engine: Engine,
    *,
    status: str | None = None,
    stream: str | None = None,
    tenant: str | None = None,
    since: timedelta | datetime | None = None,
    limit: int | None = 20,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Runs, newest first; `since` is an age (`timedelta(hours=1)`) or a point in time."""
    if isinstance(since, timedelta):
        since = (now or datetime.now(UTC)) - since
    query = runs_query(status=status, stream=stream, tenant=tenant, since=since).limit(limit)
    with engine.connect() as conn:
        return [_run(row) for row in conn.execute(query).mappings()]


def run(engine: Engine, run_id: str) -> dict[str, Any] | None:
    """One run by id, or by a prefix of its id that only it has (ambiguous: ConfigError)."""
    query = sa.select(*_RUN_COLUMNS).join(
        subscriptions, subscriptions.c.id == runs_table.c.subscription_id
    )
    with engine.connect() as conn:
        rows = (
            conn.execute(query.where(runs_table.c.id.startswith(run_id, autoescape=True)).limit(3))
            .mappings()
            .all()
        )
    exact = [r for r in rows if r["id"] == run_id]
    if len(rows) > 1 and not exact:
        raise ConfigError(f"several runs start with {run_id!r}: give more of the id")
    return _run((exact or rows)[0]) if rows else None


def last_run(engine: Engine, subscription_id: str) -> dict[str, Any] | None:
    """A subscription's latest run."""
    query = runs_query().where(runs_table.c.subscription_id == subscription_id).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    return _run(row) if row else None


def items(engine: Engine, run_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """A run's items, failed ones first, then in the order they were written."""
    failed_first = sa.case((run_items.c.status == "failed", 0), else_=1)
    query = (
        sa.select(run_items)
        .where(run_items.c.run_id == run_id)
        .order_by(failed_first, run_items.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_dated(row) for row in conn.execute(query).mappings()]


def entities(
    engine: Engine,
    stream: str,
    *,
    tenant: str | None = None,
    where: Mapping[str, str] | None = None,
    deleted: bool = False,
    limit: int | None = 20,
) -> list[dict[str, Any]]:
    """A stream's entities, most recently updated first; `deleted=True` lists only tombstones.

    `where={"channel": "C1"}` compares a typed column with its type, any other field of the
    canonical record as text.
    """
    found = get_stream(stream)
    table = found.table
    query = sa.select(table).where(table.c.provider == found.provider)
    if tenant is not None:
        query = query.where(table.c.tenant_id == tenant)
    query = query.where(
        table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)
    )
    for name, value in (where or {}).items():
        query = query.where(_field_equals(found, name, value))
    query = query.order_by(table.c.updated_at.desc(), table.c.external_id).limit(limit)
    with engine.connect() as conn:
        return [_dated(row) for row in conn.execute(query).mappings()]


def entity(
    engine: Engine, stream: str, external_id: str, tenant: str | None = None
) -> dict[str, Any] | None:
    """One entity (live or tombstoned) by its external id; several tenants: ConfigError."""
    found = get_stream(stream)
    table = found.table
    query = sa.select(table).where(
        table.c.provider == found.provider, table.c.external_id == external_id
    )
    if tenant is not None:
        query = query.where(table.c.tenant_id == tenant)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(2)).mappings().all()
    if len(rows) > 1:
        tenants = ", ".join(sorted(r["tenant_id"] for r in rows))
        raise ConfigError(
            f"{external_id} exists for several tenants ({tenants}); pick one with --tenant"
        )
    return _dated(rows[0]) if rows else None


def history(
    engine: Engine, stream: str, external_id: str, tenant: str | None = None
) -> list[dict[str, Any]]:
    """What the runs did to one entity, oldest first: `at`, `run_id`, `operation`, `status`,
    `changed_fields` (`{field: {"from": …, "to": …}}`) and `error`."""
    found = get_stream(stream)
    query = (
        sa.select(
            run_items.c.created_at.label("at"),
            run_items.c.run_id,
            run_items.c.tenant_id,
            run_items.c.operation,
            run_items.c.status,
            run_items.c.changed_fields,
            run_items.c.error,
        )
        .join(runs_table, runs_table.c.id == run_items.c.run_id)
        .join(subscriptions, subscriptions.c.id == runs_table.c.subscription_id)
        .where(
            run_items.c.entity_type == found.entity,
            run_items.c.external_id == external_id,
            subscriptions.c.connector == found.connector,
            subscriptions.c.stream == found.name,
        )
        .order_by(run_items.c.created_at, run_items.c.id)
    )
    if tenant is not None:
        query = query.where(run_items.c.tenant_id == tenant)
    with engine.connect() as conn:
        return [_dated(row) for row in conn.execute(query).mappings()]


def fields(stream: Stream) -> list[str]:
    """The names `--where` accepts: the canonical model's fields."""
    return sorted(stream.model.model_fields)


def _field_equals(stream: Stream, name: str, value: str) -> sa.ColumnElement[bool]:
    table = stream.table
    if name in table.c and name not in FIXED_COLUMNS:
        equal: sa.ColumnElement[bool] = table.c[name] == _typed(table.c[name], name, value)
        return equal
    if name not in stream.model.model_fields:
        raise ConfigError(
            f"{stream.full_name} has no field {name!r}; fields: {', '.join(fields(stream))}"
        )
    as_text: sa.ColumnElement[bool] = table.c.data[name].as_string() == value
    return as_text


def _typed(column: sa.Column[Any], name: str, value: str) -> Any:
    """The text of `--where` as the column's type (`true`/`false`, integers)."""
    python_type = column.type.python_type
    if python_type is bool:
        if value.lower() not in ("true", "false"):
            raise ConfigError(f"{name} is true or false, got {value!r}")
        return value.lower() == "true"
    if python_type is int:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{name} is a whole number, got {value!r}") from None
    return value


def _run(row: Any) -> dict[str, Any]:
    found = _dated(row)
    found["stream"] = f"{found.pop('connector')}-{found.pop('stream_name')}"
    return found


def _dated(row: Any) -> dict[str, Any]:
    """SQLite hands timestamps back naive; every one we store is UTC."""
    return {str(k): as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
