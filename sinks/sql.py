"""SqlSink: the entity rows of one stream for one tenant, on SQLAlchemy Core (DESIGN §4 steps 2 and 4).

Both dialects get one multi-row `INSERT … ON CONFLICT (tenant_id, provider, external_id) DO UPDATE`
per page (on PostgreSQL, a page of `COPY_MIN_ROWS` or more is copied into a staging table and
applied with one `INSERT … SELECT … ON CONFLICT`); tombstones are one executemany `UPDATE`. Reads are split so an unchanged record costs one
slim row (no JSON decode): `read_existing` for the hash gate, `read_data` only for changed ones.

Writes go through `Batch` (one compiled statement, one DB-API executemany, per-page constants
converted once). Reads by key on PostgreSQL probe the unique index once per key (`unnest` + a
`LATERAL … LIMIT 1`): with `IN (…)` the planner, on statistics that lag a bulk load (a new tenant, a
table autovacuum has not analyzed yet), filters every row of the tenant instead, and a first sync
turns quadratic (bench/README.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql.elements import ColumnElement

from pipeline.batch import Batch, Copy, positional, write_rows
from pipeline.changes import Sweep
from pipeline.schema import typed_columns

_KEY = ("tenant_id", "provider", "external_id")
_KEEP_ON_CONFLICT = ("id", "tenant_id", "provider", "external_id", "created_at")
_UNSET = object()


class StoredRow:
    """What the hash gate needs of a stored entity.

    `id` is converted from the driver's value only when asked for (an update, a tombstone, a
    restore): SQLAlchemy's UUID result processor costs more than the rest of an unchanged record.
    """

    __slots__ = ("_id", "_to_id", "content_hash", "is_deleted", "version")

    def __init__(
        self,
        id: Any,
        content_hash: str,
        version: int,
        is_deleted: bool,
        to_id: Callable[[Any], Any] | None = None,
    ) -> None:
        self._id, self._to_id = id, to_id
        self.content_hash, self.version, self.is_deleted = content_hash, version, is_deleted

    @property
    def id(self) -> str:
        return str(self._to_id(self._id) if self._to_id is not None else self._id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredRow):
            return NotImplemented
        return (self.id, self.content_hash, self.version, self.is_deleted) == (
            other.id,
            other.content_hash,
            other.version,
            other.is_deleted,
        )

    def __hash__(self) -> int:
        return hash((self.id, self.content_hash, self.version, self.is_deleted))

    def __repr__(self) -> str:
        return (
            f"StoredRow(id={self.id!r}, content_hash={self.content_hash!r}, version={self.version!r}, "
            f"is_deleted={self.is_deleted!r})"
        )


class SqlSink:
    """Upserts and tombstones the rows of one entity table, scoped to a tenant and a provider."""

    def __init__(self, table: sa.Table, tenant_id: str, provider: str) -> None:
        self.table = table
        self.tenant_id = tenant_id
        self.provider = provider
        self.typed = typed_columns(table)
        self._typed = [_typed_column(table.c[name]) for name in self.typed]
        c = table.c
        scoped = sa.and_(c.tenant_id == tenant_id, c.provider == provider)
        self._scoped = scoped
        self._slim = _ByKeys(
            table,
            scoped,
            (
                c.external_id,
                sa.type_coerce(c.id, sa.String()).label("id"),
                c.content_hash,
                c.version,
                sa.type_coerce(c.deleted_at.is_not(None), sa.Integer()).label(
                    "is_deleted"
                ),  # no per-row processor
            ),
        )
        self._data = _ByKeys(table, scoped, (c.external_id, c.data))
        self._to_id: dict[str, Callable[[Any], Any] | None] = {}
        self._tombstone = Batch(
            table.update()
            .where(c.id == sa.bindparam("b_id"))
            .values(
                deleted_at=sa.bindparam("b_at"),
                updated_at=sa.bindparam("b_at"),
                delete_reason=sa.bindparam("b_reason"),
                version=c.version + 1,
            )
        )
        self._rehash = Batch(
            table.update()
            .where(c.id == sa.bindparam("b_id"))
            .values(content_hash=sa.bindparam("b_hash"))
        )
        self._mark = (
            table.update()
            .where(scoped, c.external_id.in_(sa.bindparam("keys", expanding=True)))
            .where(
                sa.or_(
                    c.seen_generation.is_(None), c.seen_generation != sa.bindparam("b_generation")
                )
            )
            .values(seen_generation=sa.bindparam("b_generation"))
        )
        self._upserts: dict[str, Batch] = {}
        self._copy = Copy(table, conflict=_KEY, keep=_KEEP_ON_CONFLICT)
        self._scopes: dict[tuple[Any, ...], Any] = {}

    def read_existing(self, conn: Connection, keys: Sequence[str]) -> dict[str, StoredRow]:
        """The stored rows for a page's keys, in one query."""
        if not keys:
            return {}
        dialect = conn.dialect
        to_id = self._to_id.get(dialect.name, _UNSET)
        if to_id is _UNSET:
            to_id = self._to_id[dialect.name] = self.table.c.id.type.dialect_impl(
                dialect
            ).result_processor(dialect, None)
        rows = self._slim.rows(conn, keys)
        if not rows:
            return {}
        external_ids, ids, hashes, versions, deleted = zip(*rows, strict=True)
        stored = map(StoredRow, ids, hashes, versions, map(bool, deleted), repeat(to_id))  # type: ignore[arg-type]
        return dict(zip(external_ids, stored, strict=True))

    def read_data(self, conn: Connection, keys: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """The stored canonical records for keys whose hash changed."""
        if not keys:
            return {}
        return {r[0]: r[1] for r in self._data.rows(conn, keys)}

    def row(self, external_id: str, record: Mapping[str, Any], **fixed: Any) -> dict[str, Any]:
        """A full entity row: fixed columns, then typed columns taken from the record by name."""
        row: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "provider": self.provider,
            "external_id": external_id,
        }
        row.update(fixed)
        row["data"] = record
        for name, path, convert in self._typed:
            value = record.get(name) if path is None else _dig(record, path)
            row[name] = value if convert is None or value is None else convert(value)
        return row

    def mark_seen(self, conn: Connection, keys: Sequence[str], generation: str) -> None:
        """Mark a page's rows as seen by a multi-run walk (its sweep spares them)."""
        if keys:
            conn.execute(self._mark, {"keys": list(keys), "b_generation": generation})

    def lookup(self, engine: Engine) -> SqlLookup:
        """A read-only view of this sink's live records for the change source."""
        return SqlLookup(engine, self)

    def write(
        self,
        conn: Connection,
        upserts: Sequence[dict[str, Any]],
        tombstones: Sequence[dict[str, Any]],
        rehashes: Sequence[dict[str, Any]] = (),
    ) -> None:
        """One multi-row upsert, one batched tombstone update, and the stale hashes of noops."""
        self._rehash.execute(conn, rehashes)
        if upserts:
            write_rows(conn, self._upsert_statement(conn), self._copy, upserts)
        if tombstones:
            self._tombstone.execute(
                conn,
                [
                    {"b_id": t["id"], "b_at": t["deleted_at"], "b_reason": t["delete_reason"]}
                    for t in tombstones
                ],
            )

    def _upsert_statement(self, conn: Connection) -> Batch:
        dialect = conn.dialect.name
        if dialect not in self._upserts:
            insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(self.table)
            update = {
                c.name: insert.excluded[c.name]
                for c in self.table.columns
                if c.name not in _KEEP_ON_CONFLICT
            }
            self._upserts[dialect] = Batch(
                insert.on_conflict_do_update(index_elements=list(_KEY), set_=update)
            )
        return self._upserts[dialect]

    def live_in_scope(self, conn: Connection, sweep: Sweep) -> list[tuple[str, str | None, Any]]:
        """(external id, seen generation, updated_at) of live entities in a sweep's scope.

        A Slack page can carry a sweep per thread: the statement is built once per shape of scope
        (its column names, and which values are None or booleans, which render as SQL literals)
        and run with the values bound.
        """
        shape = (
            tuple(
                (name, value if value is None or isinstance(value, bool) else ...)
                for name, value in sweep.where.items()
            ),
            sweep.between[0] if sweep.between is not None else None,
        )
        query = self._scopes.get(shape)
        if query is None:
            query = self._scopes[shape] = self._scope_query(shape)
        params = {
            f"w_{i}": value
            for i, value in enumerate(sweep.where.values())
            if not (value is None or isinstance(value, bool))
        }
        if sweep.between is not None:
            params.update(b_low=sweep.between[1], b_high=sweep.between[2])
        return [(r[0], r[1], r[2]) for r in conn.execute(query, params)]

    def _scope_query(self, shape: tuple[Any, ...]) -> Any:
        c = self.table.c
        query = sa.select(c.external_id, c.seen_generation, c.updated_at).where(
            self._scoped, c.deleted_at.is_(None)
        )
        where, between = shape
        for i, (name, literal) in enumerate(where):
            value = sa.bindparam(f"w_{i}", type_=c[name].type) if literal is ... else literal
            query = query.where(c[name] == value)
        if between is not None:
            query = query.where(*_within(c[between]))
        return query


def _dig(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _typed_column(
    column: sa.Column[Any],
) -> tuple[str, tuple[str, ...] | None, Callable[[Any], Any] | None]:
    """How to fill a typed column: its record path (`info["path"]`, dotted) and a converter."""
    path = column.info.get("path")
    convert = _to_datetime if isinstance(column.type, sa.DateTime) else None
    return column.name, tuple(path.split(".")) if path else None, convert


def _to_datetime(value: Any) -> Any:
    """Canonical records hold ISO-8601 text; a DateTime column wants a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _within(column: Any) -> tuple[Any, Any]:
    """`low <= column <= high`; a text column holds decimal text (a Slack ts) and is compared by
    value: more integer digits is larger, equal lengths compare as text (vendors.md §1.3)."""
    low = sa.bindparam("b_low", type_=column.type)
    high = sa.bindparam("b_high", type_=column.type)
    if not isinstance(column.type, sa.String):
        return column >= low, column <= high
    size, fn = sa.func.length(column), sa.func.length
    return (
        sa.or_(size > fn(low), sa.and_(size == fn(low), column >= low)),
        sa.or_(size < fn(high), sa.and_(size == fn(high), column <= high)),
    )


class SqlLookup:
    """Read-only `EntityLookup` for sources: live stored records by external id."""

    def __init__(self, engine: Engine, sink: SqlSink) -> None:
        self.engine = engine
        self.sink = sink
        self._query: _ByKeys | None = None

    def lookup(self, keys: Iterable[str]) -> dict[str, Mapping[str, Any]]:
        keys = list(keys)
        if self._query is None:
            c = self.sink.table.c
            self._query = _ByKeys(
                self.sink.table,
                sa.and_(self.sink._scoped, c.deleted_at.is_(None)),
                (c.external_id, c.data),
            )
        query = self._query
        found: dict[str, Mapping[str, Any]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 5000):
                found.update((r[0], r[1]) for r in query.rows(conn, keys[start : start + 5000]))
        return found

    def count_live(
        self, by: str, values: Iterable[Any], where: Mapping[str, Any]
    ) -> dict[Any, int]:
        """Live entities per value of the typed column `by`, among those matching `where`."""
        values = list(values)
        if not values:
            return {}
        c = self.sink.table.c
        query = (
            sa.select(c[by], sa.func.count())
            .where(self.sink._scoped, c.deleted_at.is_(None), c[by].in_(values))
            .where(*(c[name] == value for name, value in where.items()))
            .group_by(c[by])
        )
        with self.engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query)}


class _ByKeys:
    """`SELECT columns WHERE where AND external_id IN :keys`, run on the driver directly.

    On PostgreSQL the statement probes the unique (tenant_id, provider, external_id) index once per
    key, whatever the planner's statistics say (see the module docstring). Elsewhere the IN list is
    expanded once per power of two of keys (a shorter list is padded with its last key). Rows come
    back as driver tuples with each column's SQLAlchemy result processor applied, skipping
    SQLAlchemy's per-execution expansion and Row objects, which cost more than the query itself on
    a 1000-key page.
    """

    def __init__(self, table: sa.Table, where: ColumnElement[bool], columns: Sequence[Any]) -> None:
        c = table.c
        self.generic = sa.select(*columns).where(
            where, c.external_id.in_(sa.bindparam("keys", expanding=True))
        )
        keys = (
            sa.func.unnest(sa.bindparam("keys", type_=postgresql.ARRAY(c.external_id.type)))
            .table_valued("key")
            .render_derived(name="k")
        )
        probe = sa.select(*columns).where(where, c.external_id == keys.c.key).limit(1).lateral("m")
        self.on_postgres = sa.select(*probe.c).select_from(keys).join(probe, sa.true())
        self._plans: dict[tuple[str, int], tuple[str, list[Any], list[Any]]] = {}

    def statement(self, dialect: Dialect) -> Any:
        return self.on_postgres if dialect.name == "postgresql" else self.generic

    def rows(self, conn: Connection, keys: Sequence[str]) -> list[Any]:
        if not keys:
            return []
        dialect = conn.dialect
        keys = list(keys)
        size = 0
        if (
            dialect.name != "postgresql"
        ):  # one expanded statement per power of two: pad with the last key
            size = 8
            while size < len(keys):
                size *= 2
            keys += [keys[-1]] * (size - len(keys))
        try:
            plan = self._plans.get((dialect.name, size)) or self._plan(dialect, size)
        except _Unplannable:
            return list(conn.execute(self.statement(dialect), {"keys": list(keys)}).all())
        sql, slots, processors = plan
        params = tuple(
            keys if slot is _KEYS else keys[slot] if type(slot) is int else slot.value
            for slot in slots
        )
        result = conn.exec_driver_sql(sql, params)
        rows = list(
            result.cursor.fetchall() if result.cursor is not None else result.all()
        )  # plain tuples
        result.close()
        if not any(processors):
            return rows
        return [
            tuple(v if p is None or v is None else p(v) for v, p in zip(r, processors, strict=True))
            for r in rows
        ]

    def _plan(self, dialect: Dialect, size: int) -> tuple[str, list[Any], list[Any]]:
        statement = self.statement(dialect)
        compiled = statement.compile(dialect=dialect)
        sentinels = [_Slot(i) for i in range(size)]
        state = compiled.construct_expanded_state({"keys": sentinels if size else _KEYS})
        sql = state.statement
        if state.positiontup is not None:
            names = list(state.positiontup)
        else:
            sql, names = positional(
                sql, {v: k for k, v in (compiled.escaped_bind_names or {}).items()}
            )
        slots: list[Any] = []
        for name in names:
            value = state.parameters[name]
            process = state.processors.get(name)
            if isinstance(value, _Slot) or value is _KEYS:
                if process is not None:  # a type that converts keys: let SQLAlchemy do it all
                    raise _Unplannable
                slots.append(value.index if isinstance(value, _Slot) else _KEYS)
            else:
                slots.append(_Slot(process(value) if process is not None else value, constant=True))
        processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        plan = self._plans[(dialect.name, size)] = (sql, slots, processors)
        return plan


class _Slot:
    __slots__ = ("index", "value")

    def __init__(self, value: Any, constant: bool = False) -> None:
        self.index: int | None = None if constant else value
        self.value: Any = value if constant else None


class _Unplannable(Exception):
    pass


_KEYS = object()  # the PostgreSQL statement's one array parameter
