"""The connector contract suite (issue: "three lines give a connector its suite").

    from pipeline.testing import stream_contract
    from connectors.acme.sandbox import contract_sandbox

    TestTickets = stream_contract("acme-tickets", contract_sandbox, config={"teams": ["ENG"]})

The suite runs against the connector's own sandbox through the real engine, on every database the
project's `db` fixture gives (SQLite and PostgreSQL here). It checks what a user can see: run rows,
entity rows, events. A connector's sandbox implements `ContractSandbox`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import sqlalchemy as sa

from pipeline.orchestrator import RunOptions
from pipeline.registry import get_stream
from pipeline.subscriptions import Subscription
from pipeline.tables import event_outbox, run_items, runs

if TYPE_CHECKING:
    import pytest


class ContractSandbox(Protocol):
    """What the suite asks of a vendor sandbox (one fresh, seeded instance per test)."""

    token: str

    def settings(self) -> dict[str, Any]:
        """Run settings pointing the connector at this sandbox (transport, api_url, token, clock)."""
        ...

    def edit(self, stream: str) -> tuple[str, set[str]]:
        """Edit one record at the vendor: its external id and the canonical fields that change."""
        ...

    def delete(self, stream: str) -> str:
        """Delete one record at the vendor (it vanishes from listings): its external id."""
        ...

    def fail(self, after_calls: int, status: int = 500) -> None:
        """Answer every request after the next `after_calls` with `status` (a storm), until healed."""
        ...

    def heal(self) -> None: ...


class _Crash(BaseException):
    """Stands for a process killed at a page boundary (nothing after it runs)."""


def stream_contract(
    stream: str,
    sandbox: Callable[[], ContractSandbox],
    config: Mapping[str, Any] | None = None,
) -> type:
    """A pytest class of contract tests for `stream`, run against `sandbox()`."""

    class Contract(_ContractTests):
        stream_name = stream
        make_sandbox = staticmethod(sandbox)
        sub_config: ClassVar[dict[str, Any]] = dict(config or {})

    Contract.__name__ = f"Contract_{stream.replace('-', '_')}"
    return Contract


class _ContractTests:
    stream_name: str
    make_sandbox: Callable[[], ContractSandbox]
    sub_config: ClassVar[dict[str, Any]]

    # -- helpers -------------------------------------------------------------------------------

    def sync(self, db: Any, box: ContractSandbox, **options: Any) -> Any:
        stream = get_stream(self.stream_name)
        sub = Subscription(stream.connector, stream.name, config=dict(self.sub_config))
        run_options = RunOptions(settings=box.settings(), **options)
        return db.orchestrator.run(stream, sub, options=run_options)

    def entities(self, db: Any) -> dict[str, dict[str, Any]]:
        table = get_stream(self.stream_name).table
        return {r["external_id"]: r for r in db.rows(sa.select(table))}

    def events(self, db: Any, run_id: str | None = None) -> list[dict[str, Any]]:
        return list(db.events(run_id))

    # -- the contract --------------------------------------------------------------------------

    def test_every_record_validates_and_ids_are_unique(self, db: Any) -> None:
        box = self.make_sandbox()
        run = self.sync(db, box)
        assert (run.status, run.failed) == ("success", 0), run.error
        created = [e["aggregateid"] for e in self.events(db) if e["type"].endswith("_created")]
        assert len(created) == len(set(created)) == len(self.entities(db)) == run.created > 0

    def test_replaying_the_walk_emits_nothing(self, db: Any) -> None:
        box = self.make_sandbox()
        self.sync(db, box)
        again = self.sync(db, box, full_refresh=True)
        assert (again.status, again.created, again.updated, again.deleted) == (
            "no_changes",
            0,
            0,
            0,
        )
        assert self.events(db, again.id) == []

    def test_an_edit_is_one_edited_event_with_exactly_its_fields(self, db: Any) -> None:
        box = self.make_sandbox()
        self.sync(db, box)
        external_id, fields = box.edit(self.stream_name)
        run = self.sync(db, box)
        [event] = self.events(db, run.id)
        assert event["type"].endswith("_edited")
        assert event["payload"]["externalId"] == external_id
        assert set(event["payload"]["changedFields"]) == fields

    def test_a_deletion_is_tombstoned_after_a_complete_walk(self, db: Any) -> None:
        box = self.make_sandbox()
        self.sync(db, box)
        gone = box.delete(self.stream_name)
        run = self.sync(db, box, full_refresh=True)
        assert run.status == "success", run.error
        assert self.entities(db)[gone]["deleted_at"] is not None
        assert [e["type"].endswith("_deleted") for e in self.events(db, run.id)].count(True) == 1

    def test_a_failure_storm_mid_walk_tombstones_nothing_and_a_clean_rerun_converges(
        self, db: Any
    ) -> None:
        box = self.make_sandbox()
        self.sync(db, box)
        gone = box.delete(self.stream_name)
        box.fail(after_calls=1)
        failed = self.sync(db, box, full_refresh=True)
        box.heal()
        assert (failed.status, failed.deleted) in {("partial", 0), ("failed", 0)}, failed.error
        assert self.entities(db)[gone]["deleted_at"] is None
        healed = self.sync(db, box, full_refresh=True)
        assert healed.status == "success" and healed.deleted == 1, healed.error

    def test_a_crash_at_a_page_boundary_then_a_rerun_creates_each_entity_exactly_once(
        self, db: Any
    ) -> None:
        box = self.make_sandbox()

        def crash(step: str, page: int) -> None:
            if step == "committed" and page == 1:
                raise _Crash

        import pytest  # the suite runs under pytest; the engine never imports it

        with pytest.raises(_Crash):
            self.sync(db, box, on_step=crash)
        self.sync(db, box)
        events = self.events(db)
        assert len({e["event_id"] for e in events}) == len(events)
        created = sorted(e["aggregateid"] for e in events if e["type"].endswith("_created"))
        assert created == sorted(r["id"] for r in self.entities(db).values())

    def test_no_secret_reaches_errors_logs_rows_or_events(
        self, db: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        box = self.make_sandbox()
        caplog.set_level(logging.DEBUG)
        self.sync(db, box)
        box.fail(after_calls=0, status=401)
        self.sync(db, box)
        stored = [
            *db.rows(sa.select(runs)),
            *db.rows(sa.select(run_items)),
            *db.rows(sa.select(event_outbox)),
            *self.entities(db).values(),
        ]
        assert box.token not in repr(stored) + caplog.text
