"""`integration_rate_limits`: where adaptive pacing remembers what each vendor method accepts.

The HTTP layer knows nothing about databases (DESIGN §6); this `PaceStore` is what the engine hands
it. Each save is one short upsert in its own transaction, outside any page transaction: a learned
rate is written when a 429 arrives (so other processes honour its `Retry-After` at once) and when
a run ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from pipeline.db import as_utc
from pipeline.http.pacing import PaceKey, PaceState
from pipeline.tables import rate_limits

_STATE = ("regime", "rate_per_s", "ceiling_per_s", "blocked_until", "limited_at")


class SqlPaceStore:
    """Learned rates per (tenant, connector, method), on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self, key: PaceKey) -> PaceState | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*(rate_limits.c[c] for c in _STATE)).where(*_match(key)))
            found = row.first()
        if found is None:
            return None
        regime, rate, ceiling, until, limited = found
        return PaceState(regime, rate, ceiling, as_utc(until), as_utc(limited))

    def save(self, key: PaceKey, state: PaceState, now: datetime) -> None:
        """Upsert the key's state (the last writer wins; a 429 is written as it happens)."""
        values: dict[str, Any] = {c: getattr(state, c) for c in _STATE}
        values["updated_at"] = now
        row = {"tenant_id": key.tenant, "connector": key.vendor, "method": key.method, **values}
        with self.engine.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            statement = insert(rate_limits).values(**row)
            conn.execute(statement.on_conflict_do_update(index_elements=_KEY, set_=values))


_KEY = ["tenant_id", "connector", "method"]


def _match(key: PaceKey) -> list[sa.ColumnElement[bool]]:
    c = rate_limits.c
    return [c.tenant_id == key.tenant, c.connector == key.vendor, c.method == key.method]
