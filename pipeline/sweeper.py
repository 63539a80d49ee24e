"""Closes runs whose holder died (DESIGN §9): `running` rows whose lease is no longer theirs.

A run's lease is renewed every TTL/3 while it works; once its holder is gone, the lease expires
within one TTL and the next sweep (every TTL/2 in each `pipeline schedule` process) ends the row
as `failed`, even if its subscription never runs again.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db import write_transaction
from pipeline.tables import leases, runs


def sweep_interrupted(engine: Engine, now: datetime) -> int:
    """End as `failed` every `running` run that no longer holds a live lease; how many."""
    held = sa.exists().where(
        leases.c.subscription_id == runs.c.subscription_id,
        leases.c.owner == runs.c.owner,
        leases.c.fencing_token == runs.c.fencing_token,
        leases.c.leased_until > now,
    )
    with engine.connect() as conn:
        orphans = conn.execute(
            sa.select(runs.c.id, runs.c.owner).where(runs.c.status == "running", ~held)
        ).all()
    if not orphans:
        return 0
    closed = 0
    with write_transaction(engine) as conn:
        for run_id, owner in orphans:
            closed += conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == "running", ~held)
                .values(
                    status="failed", completed_at=now, error=f"interrupted: holder {owner} gone"
                )
            ).rowcount
    return closed
