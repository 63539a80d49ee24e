"""The control plane: `POST /_sandbox/<op>` with a JSON or form body (no token: not GitHub's).

The same operations as `Sandbox`'s methods (vendors.md §6.1.2-3, §6.1.7-9). Form bodies carry
strings: numbers are parsed, lists are comma-separated, booleans are "true"/"false".

    POST clock {"advance": 60} | {"set": 1767225600}
    POST create_issue {"repo", "title", "body"?, "user"?, "labels"?, "assignees"?,
                       "pull_request"?, "via_app"?}
    POST edit_issue {"repo", "number", "title"?, "body"?}
    POST add_label | remove_label {"repo", "number", "label"}
    POST assign | unassign {"repo", "number", "login"}
    POST close {"repo", "number", "reason"?: completed|not_planned}   POST reopen | merge {…}
    POST delete_issue {"repo", "number"}    POST transfer_issue {"repo", "number", "to"}
    POST add_comment {"repo", "number", "body", "user"?, "via_app"?}
    POST edit_comment {"repo", "id", "body"}   POST delete_comment {"repo", "id"}
    POST bulk_seed {"repo", "count", "max_comments"?}
    POST fault {"kind", …Fault fields} → {"fault": id}     POST clear_faults
    POST limits {…LimitSettings fields, "link_last"?}
    GET  state | metrics | requests
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from .faults import Fault
from .seed import bulk_seed
from .snapshot import snapshot
from .world import NotFound, World

if TYPE_CHECKING:
    from .app import SandboxApp

Body = dict[str, Any]
Op = Callable[["SandboxApp", Body], Body]


def _int(body: Body, name: str) -> int:
    return int(str(body[name]))


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


def _clock(app: SandboxApp, body: Body) -> Body:
    if "set" in body:
        app.world.clock.set(float(body["set"]))
    app.world.clock.advance(float(body.get("advance", 0)))
    return {"now": app.world.now}


def _issue_json(app: SandboxApp, repo: str, number: int) -> Body:
    issue = app.world.repo(repo).issues[number]
    return {"issue": {"id": issue.id, "number": issue.number, "updated_at": issue.updated_at}}


def _create_issue(app: SandboxApp, body: Body) -> Body:
    issue = app.world.create_issue(
        body["repo"],
        str(body["title"]),
        body=body.get("body"),
        user=body.get("user"),
        labels=_list(body.get("labels")),
        assignees=_list(body.get("assignees")),
        pull_request=_bool(body.get("pull_request", False)),
        via_app=body.get("via_app"),
    )
    return _issue_json(app, body["repo"], issue.number)


def _issue_op(action: Callable[[World, Body, int], object]) -> Op:
    def op(app: SandboxApp, body: Body) -> Body:
        number = _int(body, "number")
        action(app.world, body, number)
        repo = app.world.repo(body["repo"])
        return _issue_json(app, body["repo"], number) if number in repo.issues else {}

    return op


def _comment_op(app: SandboxApp, body: Body, name: str) -> Body:
    world, repo = app.world, body["repo"]
    if name == "add_comment":
        comment = world.add_comment(
            repo,
            _int(body, "number"),
            str(body["body"]),
            user=body.get("user"),
            via_app=body.get("via_app"),
        )
    elif name == "edit_comment":
        comment = world.edit_comment(repo, _int(body, "id"), str(body["body"]))
    else:
        comment = world.delete_comment(repo, _int(body, "id"))
    return {"comment": {"id": comment.id, "updated_at": comment.updated_at}}


def _fault(app: SandboxApp, body: Body) -> Body:
    options = dict(body)
    kind = str(options.pop("kind"))
    types = {f.name: f.type for f in fields(Fault)}
    for name, value in list(options.items()):
        if value in (None, "", "none", "null"):
            options[name] = None
        elif "float" in str(types.get(name)):
            options[name] = float(value)
        elif "int" in str(types.get(name)):
            options[name] = int(str(value))
    return {"fault": app.faults.add(kind, **options).id}


def _limits(app: SandboxApp, body: Body) -> Body:
    changes = dict(body)
    if "link_last" in changes:
        app.with_last = _bool(changes.pop("link_last"))
    app.limits.settings.update(**changes)
    return {"limits": vars(app.limits.settings), "link_last": app.with_last}


def _bulk_seed(app: SandboxApp, body: Body) -> Body:
    count = bulk_seed(
        app.world,
        body["repo"],
        _int(body, "count"),
        max_comments=int(str(body.get("max_comments", 0))),
    )
    return {"created": count}


def _clear_faults(app: SandboxApp, body: Body) -> Body:
    app.faults.clear()
    return {}


def _state(app: SandboxApp, body: Body) -> Body:
    return snapshot(app.world)


def _metrics(app: SandboxApp, body: Body) -> Body:
    return app.metrics.as_dict()


def _requests(app: SandboxApp, body: Body) -> Body:
    return {"requests": list(app.journal)}


def _comment(name: str) -> Op:
    return lambda app, body: _comment_op(app, body, name)


ISSUE_OPS: dict[str, Callable[[World, Body, int], object]] = {
    "edit_issue": lambda w, b, n: w.edit_issue(
        b["repo"], n, title=b.get("title"), body=b.get("body")
    ),
    "add_label": lambda w, b, n: w.label(b["repo"], n, str(b["label"])),
    "remove_label": lambda w, b, n: w.label(b["repo"], n, str(b["label"]), add=False),
    "assign": lambda w, b, n: w.assign(b["repo"], n, str(b["login"])),
    "unassign": lambda w, b, n: w.assign(b["repo"], n, str(b["login"]), add=False),
    "close": lambda w, b, n: w.close(b["repo"], n, b.get("reason") or "completed"),
    "reopen": lambda w, b, n: w.reopen(b["repo"], n),
    "merge": lambda w, b, n: w.merge(b["repo"], n),
    "delete_issue": lambda w, b, n: w.delete_issue(b["repo"], n),
    "transfer_issue": lambda w, b, n: w.transfer_issue(b["repo"], n, str(b["to"])),
}
OPS: dict[str, Op] = {
    "clock": _clock,
    "create_issue": _create_issue,
    **{name: _issue_op(action) for name, action in ISSUE_OPS.items()},
    **{name: _comment(name) for name in ("add_comment", "edit_comment", "delete_comment")},
    "bulk_seed": _bulk_seed,
    "fault": _fault,
    "clear_faults": _clear_faults,
    "limits": _limits,
    "state": _state,
    "metrics": _metrics,
    "requests": _requests,
}


def handle(app: SandboxApp, op: str, body: Body) -> tuple[int, Body]:
    """Run one control op → (HTTP status, body): bad input 400, unknown op 404."""
    action = OPS.get(op)
    if action is None:
        return 404, {"ok": False, "error": f"unknown op {op!r}", "ops": sorted(OPS)}
    try:
        result = action(app, body)
    except KeyError as exc:
        return 400, {"ok": False, "error": f"missing field {exc}"}
    except (NotFound, TypeError, ValueError) as exc:
        return 400, {"ok": False, "error": str(exc)}
    return 200, {"ok": True, **result}
