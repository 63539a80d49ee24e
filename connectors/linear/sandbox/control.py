"""The sandbox control plane: `/_sandbox/<op>` with a JSON or form body (vendors.md §6.1.2-3,
§6.1.7-9, §6.5). Not part of Linear: no key. The same operations are `Sandbox` methods.

    POST /_sandbox/clock          {"advance": 60} | {"set": 1767225600.0}
    POST /_sandbox/create_issue   {"team": "ENG", "title", "state"?, "assignee"?, "priority"?, …}
    POST /_sandbox/update_issue   {"id": uuid | "ENG-12", "state"?, "assignee"?, "title"?, …}
    POST /_sandbox/archive | unarchive | trash | purge   {"id"}
    POST /_sandbox/purge_due      purge trashed issues whose grace period is over
    POST /_sandbox/bulk_seed      {"n": 10000, "seed"?}
    POST /_sandbox/churn          {"seed"?, "edit_ratio"?, "archive_ratio"?, "trash_ratio"?}
    POST /_sandbox/fault          {"kind", …Fault fields} → {"fault": id}
    POST /_sandbox/clear_faults   POST /_sandbox/invalidate_cursors
    POST /_sandbox/limits         {"requests_per_hour"?, "complexity_per_hour"?, "max_complexity"?,
                                   "enabled"?, "status"?: 400 | 429}
    POST /_sandbox/settings       {"archive_bumps_updated_at"?, "grace_s"?, "max_first"?, "sort"?}
    GET  /_sandbox/state   GET /_sandbox/metrics   GET /_sandbox/requests
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .resolvers import issue_record
from .seed import bulk_seed, churn
from .store import SandboxError, Store

if TYPE_CHECKING:
    from .app import SandboxApp

Body = dict[str, Any]
Op = Callable[["SandboxApp", Body], Body]
FAULT_INTS = ("times", "every", "after", "page", "status")


def snapshot(store: Store) -> Body:
    """The whole truth (§6.1.9): every issue still stored, archived and trashed ones included,
    and the ids purged for good with when."""
    store.purge_due()
    return {
        "now": store.clock.now(),
        "teams": [{"id": t.id, "key": t.key, "name": t.name} for t in store.teams.values()],
        "issues": [issue_record(store, i) for i in store.issues.values()],
        "purged": dict(store.purged),
    }


def _clock(app: SandboxApp, body: Body) -> Body:
    if "set" in body:
        app.store.clock.set(float(body["set"]))
    if "advance" in body:
        app.store.clock.advance(float(body["advance"]))
    return {"now": app.store.clock.now()}


def _create(app: SandboxApp, body: Body) -> Body:
    fields = dict(body)
    issue = app.store.create_issue(str(fields.pop("team")), str(fields.pop("title")), **fields)
    return {"issue": issue_record(app.store, issue)}


def _update(app: SandboxApp, body: Body) -> Body:
    fields = dict(body)
    issue = app.store.update_issue(str(fields.pop("id")), **fields)
    return {"issue": issue_record(app.store, issue)}


def _lifecycle(name: str) -> Op:
    def op(app: SandboxApp, body: Body) -> Body:
        action = getattr(app.store, name)
        issue = action(str(body["id"]))
        return {"issue": issue_record(app.store, issue)} if issue is not None else {}

    return op


def _purge_due(app: SandboxApp, body: Body) -> Body:
    return {"purged": app.store.purge_due()}


def _bulk_seed(app: SandboxApp, body: Body) -> Body:
    ids = bulk_seed(app.store, int(body["n"]), int(body.get("seed", 0)))
    return {"created": len(ids)}


def _churn(app: SandboxApp, body: Body) -> Body:
    ratios = {
        k: float(body[k]) for k in ("edit_ratio", "archive_ratio", "trash_ratio") if k in body
    }
    return churn(app.store, int(body.get("seed", 0)), **ratios)


def _fault(app: SandboxApp, body: Body) -> Body:
    options = dict(body)
    for name in FAULT_INTS:
        if isinstance(options.get(name), str):
            options[name] = None if options[name] in ("", "none") else int(options[name])
    if isinstance(options.get("probability"), str):
        options["probability"] = float(options["probability"])
    return {"fault": app.faults.add(str(options.pop("kind")), **options).id}


def _clear_faults(app: SandboxApp, body: Body) -> Body:
    app.faults.clear()
    return {}


def _invalidate_cursors(app: SandboxApp, body: Body) -> Body:
    app.cursors.invalidate()
    return {}


def _limits(app: SandboxApp, body: Body) -> Body:
    app.limits.configure(**body)
    names = ("requests_per_hour", "complexity_per_hour", "max_complexity", "enabled", "status")
    return {name: getattr(app.limits, name) for name in names}


def _settings(app: SandboxApp, body: Body) -> Body:
    if "archive_bumps_updated_at" in body:
        value = body["archive_bumps_updated_at"]
        app.store.archive_bumps_updated_at = value is True or str(value).lower() in ("1", "true")
    if "grace_s" in body:
        app.store.grace_s = float(body["grace_s"])
    if "max_first" in body:
        app.max_first = int(body["max_first"])
    if "sort" in body:
        if body["sort"] not in ("asc", "desc"):
            raise ValueError("sort must be 'asc' or 'desc'")
        app.sort = str(body["sort"])
    return {
        "archive_bumps_updated_at": app.store.archive_bumps_updated_at,
        "grace_s": app.store.grace_s,
        "max_first": app.max_first,
        "sort": app.sort,
    }


def _state(app: SandboxApp, body: Body) -> Body:
    return snapshot(app.store)


def _metrics(app: SandboxApp, body: Body) -> Body:
    return app.metrics.as_dict()


def _requests(app: SandboxApp, body: Body) -> Body:
    return {"requests": list(app.journal)}


OPS: dict[str, Op] = {
    "clock": _clock,
    "create_issue": _create,
    "update_issue": _update,
    **{name: _lifecycle(name) for name in ("archive", "unarchive", "trash", "purge")},
    "purge_due": _purge_due,
    "bulk_seed": _bulk_seed,
    "churn": _churn,
    "fault": _fault,
    "clear_faults": _clear_faults,
    "invalidate_cursors": _invalidate_cursors,
    "limits": _limits,
    "settings": _settings,
    "state": _state,
    "metrics": _metrics,
    "requests": _requests,
}


def handle(app: SandboxApp, op: str, body: Body) -> tuple[int, Body]:
    """Run one control op → (HTTP status, body): bad input 400, unknown op or entity 404."""
    action = OPS.get(op)
    if action is None:
        return 404, {"ok": False, "error": "unknown_op", "ops": sorted(OPS)}
    try:
        result = action(app, body)
    except SandboxError as exc:
        return 404, {"ok": False, "error": exc.message}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"ok": False, "error": "invalid_arguments", "detail": str(exc)}
    return 200, {"ok": True, **result}
