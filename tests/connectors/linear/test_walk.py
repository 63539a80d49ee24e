"""The `linear-issues` walk against the sandbox, before any database: which queries it sends,
what it yields, what it checkpoints (DESIGN §7, vendors.md §4.2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.linear.graphql import check
from connectors.linear.sandbox import GRACE_S, Sandbox
from connectors.linear.walk import IssuesWalk
from pipeline import Page

Checkpoint = dict[str, Any]


def walker(sandbox: Sandbox, **options: Any) -> IssuesWalk:
    http = httpx.Client(transport=sandbox.transport(), headers={"Authorization": sandbox.token})

    def post(body: dict[str, Any]) -> dict[str, Any]:
        response = http.post(sandbox.base_url, json=body)
        check(response, sandbox.now)
        return dict(response.json())

    return IssuesWalk(post, sandbox.clock.now, **options)  # type: ignore[attr-defined]


def run(walk: IssuesWalk, checkpoint: Checkpoint | None) -> tuple[list[Page], Checkpoint]:
    pages = list(walk.pages(checkpoint))
    return pages, dict(pages[-1].checkpoint)


def deletes(pages: list[Page]) -> dict[str, str | None]:
    return {c.external_id: c.delete_reason for p in pages for c in p.changes if c.is_delete}


def test_first_walk_is_complete_and_sweeps_everything_it_saw(sandbox: Sandbox) -> None:
    pages, checkpoint = run(walker(sandbox, first=25), None)

    [sweep] = pages[-1].sweeps
    assert len(sweep.seen) == 60 and sweep.reason == "purged" and len(pages) == 3
    assert checkpoint["high_water"] == max(i["updatedAt"] for i in sandbox.state()["issues"])
    assert "walk" not in checkpoint and checkpoint["runs_since_complete"] == 0


def test_idle_resync_is_one_call_and_sweeps_nothing(sandbox: Sandbox) -> None:
    walk = walker(sandbox)
    _, checkpoint = run(walk, None)
    calls = sandbox.metrics()["calls"]

    pages, _ = run(walk, checkpoint)

    assert sandbox.metrics()["calls"] == calls + 1 and pages[-1].sweeps == []


def test_archive_without_updated_at_bump_is_a_tombstone_archived(sandbox: Sandbox) -> None:
    walk = walker(sandbox)
    _, checkpoint = run(walk, None)
    sandbox.advance(3600)
    archived = sandbox.archive("ENG-7")
    trashed = sandbox.trash("OPS-2")

    pages, _ = run(walk, checkpoint)

    assert (
        deletes(pages)[archived["id"]] == "archived" and deletes(pages)[trashed["id"]] == "trashed"
    )


def test_unarchive_comes_back_as_an_upsert(sandbox: Sandbox) -> None:
    walk = walker(sandbox)
    sandbox.archive("ENG-7")
    _, checkpoint = run(walk, None)
    sandbox.advance(60)

    restored = sandbox.unarchive("ENG-7")
    pages, _ = run(walk, checkpoint)

    upserts = {c.external_id for p in pages for c in p.changes if not c.is_delete}
    assert restored["id"] in upserts


def test_every_nth_run_is_complete_so_a_purge_is_found_by_absence(sandbox: Sandbox) -> None:
    walk = walker(sandbox, full_every_runs=3, full_every_s=1e9)
    _, checkpoint = run(walk, None)
    purged = sandbox.trash("DES-4")["id"]
    sandbox.advance(GRACE_S + 1)

    second, checkpoint = run(walk, checkpoint)
    third, checkpoint = run(walk, checkpoint)
    fourth, _ = run(walk, checkpoint)

    assert second[-1].sweeps == third[-1].sweeps == []
    [sweep] = fourth[-1].sweeps
    assert purged not in sweep.seen and len(sweep.seen) == len(sandbox.state()["issues"]) < 60


def test_team_keys_filter_the_walk_and_scope_each_sweep(sandbox: Sandbox) -> None:
    pages, _ = run(walker(sandbox, teams=["ENG", "OPS"]), None)

    records = [c.record for p in pages for c in p.changes if c.record]
    assert {r["team"]["key"] for r in records} == {"ENG", "OPS"}
    assert [(s.scope, dict(s.where)) for s in pages[-1].sweeps] == [
        ("linear:ENG", {"team_key": "ENG"}),
        ("linear:OPS", {"team_key": "OPS"}),
    ]


def test_too_complex_is_asked_again_with_half_the_page(sandbox: Sandbox) -> None:
    sandbox.set_limits(max_complexity=1_000)  # a 250-issue page costs ~1,900 points

    pages, _ = run(walker(sandbox, first=250), None)

    sizes = [r["variables"]["first"] for r in sandbox.requests()]
    assert sizes[:2] == [250, 125] and sum(len(p.changes) for p in pages) == 60


def test_a_walk_cut_short_resumes_at_its_cursor_and_sweeps_nothing(sandbox: Sandbox) -> None:
    walk = walker(sandbox, first=20)
    first_page = next(iter(walk.pages(None)))

    pages, _ = run(walk, dict(first_page.checkpoint))

    assert sum(len(p.changes) for p in pages) == 40 and pages[-1].sweeps == []
    assert sandbox.requests()[-2]["variables"]["after"] == first_page.checkpoint["walk"]["cursor"]


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_the_high_water_is_the_newest_update_whatever_the_order(clock: Any, sort: str) -> None:
    sandbox = Sandbox(seed=1, clock=clock, sort=sort)

    _, checkpoint = run(walker(sandbox, first=7), None)

    assert checkpoint["high_water"] == max(i["updatedAt"] for i in sandbox.state()["issues"])
