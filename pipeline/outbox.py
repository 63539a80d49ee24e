"""The outbox writer (DESIGN §4 step 6): typed events inserted in the page transaction.

Debezium outbox-router column names; `txid` is filled by PostgreSQL itself
(`DEFAULT pg_current_xact_id()`); one `NOTIFY` per page transaction on PostgreSQL, never one per row
(engine.md §3.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.batch import Batch, Copy, write_rows
from pipeline.events import page_check, payload_model
from pipeline.tables import event_outbox

NOTIFY_CHANNEL = "pipeline_outbox"


def validate_payloads(events: Sequence[dict[str, Any]]) -> None:
    """Every payload against its event type's model, checked one page at a time.

    One `page_check` call per event type; if one refuses, the payloads are validated one by one
    with their models, in order, so the error raised is the one `Model.model_validate` gives for
    the first bad payload (and a payload the models accept is never refused).
    """
    by_type: dict[str, list[Any]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event["payload"])
    try:
        for type_, payloads in by_type.items():
            page_check(type_).validate_python(payloads)
    except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
        for event in events:
            payload_model(event["type"]).model_validate(event["payload"])


class OutboxWriter:
    """Validates each payload against its event type's model, then inserts the page's events."""

    def __init__(self, notify: bool = True) -> None:
        self.notify = notify
        self._insert = Batch(event_outbox.insert())
        self._copy = Copy(event_outbox)

    def wake(self, conn: Connection, events: Sequence[dict[str, Any]]) -> tuple[str, str] | None:
        """The page's `pg_notify` (channel, payload) on PostgreSQL when it has events, for a
        statement the page sends anyway to carry (`emit(..., notified=True)` then sends none)."""
        if not (events and self.notify and conn.dialect.name == "postgresql"):
            return None
        return NOTIFY_CHANNEL, str(events[0]["tenant_id"])

    def emit(
        self, conn: Connection, events: Sequence[dict[str, Any]], notified: bool = False
    ) -> None:
        if not events:
            return
        validate_payloads(events)
        write_rows(conn, self._insert, self._copy, events)
        if not notified and (wake := self.wake(conn, events)):
            conn.execute(sa.select(sa.func.pg_notify(*wake)))
