"""Scopes a run was configured to read but could not: the run says so and ends `partial`.

A change source may report them with an optional method, next to `api_calls`:

    def unreadable_scopes(self) -> Mapping[str, str]:   # scope → why, e.g.
        return {"channel C0123ABCD": "not found, or the app is not a member"}

A configured scope that yields nothing looks like `no_changes` otherwise: a silent no-op. The
orchestrator calls `report_unreadable` when the run ends: each scope and its reason go into the
run's error, and a run that would end `success` or `no_changes` ends `partial` (exit 3).
Nothing of an unreadable scope is ever tombstoned: its walk did not finish (DESIGN §4).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("pipeline.run")

PARTIAL_FROM = frozenset({"success", "no_changes"})


def unreadable_scopes(source: Any) -> Mapping[str, str]:
    """What the source could not read (empty when it has no such report)."""
    report = getattr(source, "unreadable_scopes", None)
    return dict(report()) if callable(report) else {}


def describe(scopes: Mapping[str, str]) -> str:
    """`could not read 2 scopes: channel C1 (why); channel C2 (why)`."""
    noun = "scope" if len(scopes) == 1 else "scopes"
    listed = "; ".join(f"{scope} ({why})" for scope, why in sorted(scopes.items()))
    return f"could not read {len(scopes)} {noun}: {listed}"


def report_unreadable(run: Any, source: Any) -> None:
    """Name each unreadable scope in the run's error; a clean run becomes `partial`."""
    scopes = unreadable_scopes(source)
    if not scopes:
        return
    text = describe(scopes)
    run.error = f"{run.error}; {text}" if run.error else text
    if run.status in PARTIAL_FROM:
        run.status = "partial"
    log.warning(text)
