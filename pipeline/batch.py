"""`Batch`: one Core statement run as a single DB-API `executemany`, for every bulk write of a page.

The ledger, the outbox and the SQL sink write a page's rows through it (DESIGN §6 "batch per page").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

_UNSET = object()


class Batch:
    """One Core statement run as a single DB-API `executemany` over rows given as dicts.

    The SQL is compiled once per dialect and row shape, and every value goes through the same type
    bind processor SQLAlchemy's own executemany would apply (so the driver receives exactly the same
    parameters). What changes is the cost: processors run column by column, once per distinct
    object in a run of equal ones (the page's timestamp, the tenant), and no per-row SQLAlchemy
    parameter construction runs. A statement whose table has Python-side column defaults (which
    SQLAlchemy computes per row) is simply handed to `Connection.execute`.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[
            tuple[str, tuple[str, ...]], tuple[str, list[tuple[str, Any, Any]], list[str] | None]
        ] = {}
        table = getattr(statement, "table", None)
        columns = getattr(table, "columns", ())
        self._plain = not any(c.default is not None or c.onupdate is not None for c in columns)

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if not self._plain:
            conn.execute(self.statement, list(rows))
            return
        prepared = self._prepare(conn.dialect, tuple(rows[0]))
        if prepared is None:  # a bind parameter no row provides: let SQLAlchemy say which
            conn.execute(self.statement, list(rows))
            return
        sql, binds, names = prepared
        columns = [_column(rows, key, value, process) for key, value, process in binds]
        params: list[Any] = list(zip(*columns, strict=True))
        if names is not None:
            params = [dict(zip(names, p, strict=True)) for p in params]
        conn.exec_driver_sql(sql, params)

    def _prepare(
        self, dialect: Dialect, keys: tuple[str, ...]
    ) -> tuple[str, list[tuple[str, Any, Any]], list[str] | None] | None:
        found = self._compiled.get((dialect.name, keys))
        if found is not None:
            return found
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        sql = compiled.string
        if compiled.positional:
            order, names = list(compiled.positiontup), None
        elif dialect.paramstyle == "pyformat" and "%%" not in sql:
            # psycopg: `%(name)s` → `%s` with tuples; mapping a dict per row costs more than the insert
            sql, order = positional(
                sql, {v: k for k, v in (compiled.escaped_bind_names or {}).items()}
            )
            names = None
        else:
            order = list(compiled.binds)
            escaped = compiled.escaped_bind_names or {}
            names = [escaped.get(n, n) for n in order]
        binds = []
        for name in order:
            bind = compiled.binds[name]
            if name not in keys and bind.required:
                return None
            value = _UNSET if name in keys else bind.effective_value
            binds.append((name, value, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        found = self._compiled[(dialect.name, keys)] = (sql, binds, names)
        return found


_NAMED = re.compile(r"%\(([^)]+)\)s")


def positional(sql: str, unescape: Mapping[str, str]) -> tuple[str, list[str]]:
    """`… %(a)s … %(b)s … %(a)s` → (`… %s … %s … %s`, [a, b, a])."""
    order: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        order.append(unescape.get(match.group(1), match.group(1)))
        return "%s"

    return _NAMED.sub(placeholder, sql), order


def _column(
    rows: Sequence[Mapping[str, Any]], key: str, value: Any, process: Callable[[Any], Any] | None
) -> list[Any]:
    """One parameter's values for every row, through its bind processor (once per run of one object)."""
    if value is not _UNSET:
        return [process(value) if process else value] * len(rows)
    if process is None:
        return [row[key] for row in rows]
    out, last_in, last_out = [], _UNSET, None
    for row in rows:
        item = row[key]
        if item is not last_in:
            last_in, last_out = item, process(item)
        out.append(last_out)
    return out


COPY_MIN_ROWS = 32
"""From this many rows a PostgreSQL page write goes through `Copy`, below it through `Batch`
(`python -m bench.copy_pages`: executemany costs less CPU at 10 rows, COPY from 30 rows on)."""


def write_rows(
    conn: Connection, batch: Batch, copy: Copy, rows: Sequence[Mapping[str, Any]]
) -> None:
    """A page's rows through `Copy` on PostgreSQL when there are enough of them, else `Batch`."""
    if len(rows) >= COPY_MIN_ROWS and conn.dialect.name == "postgresql":
        copy.execute(conn, rows)
    else:
        batch.execute(conn, rows)


class Copy:
    """A page's rows written to PostgreSQL with `COPY … FROM STDIN` (psycopg 3 `cursor.copy`).

    Plain inserts (run items, events) are copied straight into their table. An upsert is copied
    into a session-private staging table (`ON COMMIT DELETE ROWS`: empty again after every page)
    and applied with one `INSERT … SELECT … ON CONFLICT (key) DO UPDATE` setting every column but
    `keep`, as `Batch` runs the Core upsert. JSON values are sent as JSON text (orjson), the other
    values as they are (psycopg's text COPY dumpers).
    """

    def __init__(
        self, table: sa.Table, conflict: Sequence[str] = (), keep: Sequence[str] = ()
    ) -> None:
        self.table = table
        self.on_conflict = ""
        if conflict:
            update = ", ".join(
                f'"{c.name}" = excluded."{c.name}"' for c in table.columns if c.name not in keep
            )
            self.on_conflict = f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {update}"
        self._plans: dict[tuple[str, ...], _CopyPlan] = {}

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        keys = tuple(rows[0])
        plan = self._plans.get(keys) or self._plan(keys)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if plan.stage is not None:
                cursor.execute(plan.stage)
            with cursor.copy(plan.copy) as copy:
                for row in rows:
                    copy.write_row(_values(row, keys, plan.converts))
            if plan.apply is not None:
                cursor.execute(plan.apply)
        finally:
            cursor.close()

    def _plan(self, keys: tuple[str, ...]) -> _CopyPlan:
        """The statements and each column's converter, once per row shape."""
        names = ", ".join(f'"{k}"' for k in keys)
        converts: list[Callable[[Any], Any] | None] = [
            _json_text if isinstance(self.table.c[k].type, sa.JSON) else None for k in keys
        ]
        table = f'"{self.table.name}"'
        if not self.on_conflict:
            plan = _CopyPlan(None, f"COPY {table} ({names}) FROM STDIN", None, converts)
        else:
            stage = f'"_stage_{self.table.name}"'
            plan = _CopyPlan(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) "
                "ON COMMIT DELETE ROWS",
                f"COPY {stage} ({names}) FROM STDIN",
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {self.on_conflict}",
                converts,
            )
        self._plans[keys] = plan
        return plan


class _CopyPlan(NamedTuple):
    stage: str | None
    copy: str
    apply: str | None
    converts: list[Callable[[Any], Any] | None]


def _values(
    row: Mapping[str, Any], keys: tuple[str, ...], converts: list[Callable[[Any], Any] | None]
) -> list[Any]:
    values = [row[k] for k in keys]
    return [v if f is None or v is None else f(v) for v, f in zip(values, converts, strict=True)]


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()
