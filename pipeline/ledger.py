"""The run ledger: `integration_runs` and `integration_run_items` (DESIGN §5).

A run row is started and finished in short transactions of its own; its counters are also bumped
inside every page transaction, so a crashed run's row still tells how far it got. `finish` closes
only a row still open (a takeover may have closed a zombie's row: it stays closed), and is tried
again while the database is unreachable, so a run never stays `running` (issue 10, findings 7, 8).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.batch import Batch, Copy, write_rows
from pipeline.changes import Checkpoint
from pipeline.db import with_reconnect
from pipeline.errors import redact
from pipeline.leases import is_dead_here
from pipeline.tables import run_items, runs

COUNTERS = (
    "records_found",
    "created",
    "updated",
    "deleted",
    "noop",
    "failed",
    "skipped",
    "pages",
)
CALL_COUNTERS = ("api_calls", "rate_limited", "retries")
_ALL_COUNTERS = frozenset(COUNTERS + CALL_COUNTERS)
log = logging.getLogger("pipeline.run")


@dataclass
class Run:
    """One execution of a subscription, as the orchestrator tracks it."""

    subscription_id: str
    tenant_id: str
    started_at: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "running"
    checkpoint_before: Checkpoint | None = None
    checkpoint_after: Checkpoint | None = None
    completed_at: datetime | None = None
    error: str | None = None
    owner: str | None = None
    fencing_token: int | None = None
    guarded: int = 0
    retry_after_s: float | None = None
    first_failure: str | None = None
    attempt: int = 1
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(COUNTERS + CALL_COUNTERS, 0)
    )

    @property
    def duration_ms(self) -> int | None:
        if self.completed_at is None:
            return None
        return int((self.completed_at - self.started_at).total_seconds() * 1000)

    # the counters, explicit so a typo (`run.craeted`) fails type checking
    @property
    def records_found(self) -> int:
        return self.counts["records_found"]

    @property
    def created(self) -> int:
        return self.counts["created"]

    @property
    def updated(self) -> int:
        return self.counts["updated"]

    @property
    def deleted(self) -> int:
        return self.counts["deleted"]

    @property
    def noop(self) -> int:
        return self.counts["noop"]

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    @property
    def pages(self) -> int:
        return self.counts["pages"]

    @property
    def api_calls(self) -> int:
        return self.counts["api_calls"]

    @property
    def rate_limited(self) -> int:
        return self.counts["rate_limited"]

    @property
    def retries(self) -> int:
        return self.counts["retries"]


class SqlLedger:
    """Writes runs and run items with SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert_items = Batch(run_items.insert())
        self._copy_items = Copy(run_items)
        # built once: constructing and caching a fresh UPDATE costs ~0.5 ms on every page
        self._page_counters = (
            runs.update()
            .where(runs.c.id == sa.bindparam("b_id"))
            .values(
                checkpoint_after=sa.bindparam(
                    "b_checkpoint_after", type_=runs.c.checkpoint_after.type
                ),
                **{
                    name: sa.bindparam(f"b_{name}", type_=runs.c[name].type)
                    for name in COUNTERS + CALL_COUNTERS
                },
            )
        )
        self._page_counters_notify = self._page_counters.returning(
            sa.func.pg_notify(sa.bindparam("b_channel"), sa.bindparam("b_payload"))
        )

    def start(self, run: Run) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                runs.insert().values(
                    id=run.id,
                    subscription_id=run.subscription_id,
                    tenant_id=run.tenant_id,
                    status="running",  # `finish` writes the final status (also for `skipped`)
                    attempt=run.attempt,
                    started_at=run.started_at,
                    owner=run.owner,
                    fencing_token=run.fencing_token,
                    checkpoint_before=run.checkpoint_before,
                )
            )

    def record_page(
        self,
        conn: Connection,
        run: Run,
        items: Sequence[dict[str, Any]],
        notify: tuple[str, str] | None = None,
    ) -> None:
        """Inside the page transaction: the page's run items and the run's new counters.

        `notify` (channel, payload): the page's one `pg_notify`, carried by the counters' UPDATE
        (PostgreSQL delivers it at commit wherever the transaction sends it; a round trip less)."""
        if items:
            write_rows(conn, self._insert_items, self._copy_items, items)
        wake = {"b_channel": notify[0], "b_payload": notify[1]} if notify else {}
        if run.counts.keys() != _ALL_COUNTERS:
            update = runs.update().where(runs.c.id == run.id)
            if notify:
                update = update.returning(sa.func.pg_notify(*notify))
            conn.execute(update.values(checkpoint_after=run.checkpoint_after, **run.counts))
            return
        params = {f"b_{name}": value for name, value in run.counts.items()}
        conn.execute(
            self._page_counters_notify if notify else self._page_counters,
            {"b_id": run.id, "b_checkpoint_after": run.checkpoint_after, **params, **wake},
        )

    def finish(self, run: Run) -> bool:
        """Close the run row; False if it was already closed (by a takeover) and is left as is."""
        closed = with_reconnect(lambda: self._finish(run))
        if not closed:
            log.warning("run %s was closed by the run that took its lease over", run.id)
        return closed

    def _finish(self, run: Run) -> bool:
        error = redact(run.error) if run.error else None
        with self.engine.begin() as conn:
            done = conn.execute(
                runs.update()
                .where(runs.c.id == run.id, runs.c.completed_at.is_(None))
                .values(
                    status=run.status,
                    completed_at=run.completed_at,
                    duration_ms=run.duration_ms,
                    checkpoint_after=run.checkpoint_after,
                    error=error,
                    **run.counts,
                )
            )
        return bool(done.rowcount)

    def abandon_running(
        self, conn: Connection, subscription_id: str, now: datetime, holder: str
    ) -> None:
        """Close the `running` rows of a holder whose lease was taken over: `failed` if it crashed,
        `lost_lease` if it stalled (alive or elsewhere: its own `finish` will leave the row as is)."""
        if is_dead_here(holder):
            status, error = "failed", f"interrupted: lease holder {holder} is gone"
        else:
            status, error = "lost_lease", f"lease taken over: holder {holder} stopped renewing it"
        conn.execute(
            runs.update()
            .where(runs.c.subscription_id == subscription_id, runs.c.status == "running")
            .values(status=status, completed_at=now, error=error)
        )


def load_run(engine: Engine, run_id: str) -> dict[str, Any] | None:
    """A run row as a dict (for `pipeline runs show` and tests)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
    return dict(row) if row else None
