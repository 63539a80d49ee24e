"""The sandbox control plane: `POST /_sandbox/<op>` with a JSON body, for tests and benchmarks.

It mutates the workspace (the same operations as `Workspace`'s methods), drives the fake clock,
injects faults, switches the rate-limit regime, and reads the ground truth, counters and request
journal (vendors.md §6.1.2, §6.1.3, §6.1.8, §6.1.9, §6.5). No token: it is not part of Slack.

    POST /_sandbox/clock        {"advance": 60} | {"set": 1767225600.0}
    POST /_sandbox/post         {"channel", "text", "user"?, "thread_ts"?, "broadcast"?}
    POST /_sandbox/reply        {"channel", "thread_ts", "text", "user"?, "broadcast"?}
    POST /_sandbox/edit         {"channel", "ts", "text", "user"?}
    POST /_sandbox/delete       {"channel", "ts"}
    POST /_sandbox/react        {"channel", "ts", "name", "user"?}      (and /unreact)
    POST /_sandbox/archive      {"channel"}                              (and /unarchive)
    POST /_sandbox/remove_bot   {"channel"}                              (and /add_bot)
    POST /_sandbox/delete_channel {"channel"}   POST /_sandbox/deactivate_user {"user"}
    POST /_sandbox/churn        {"seed", "edit_ratio"?, "delete_ratio"?}
    POST /_sandbox/fault        {"kind", …Fault fields}  → {"fault": id}
    POST /_sandbox/clear_faults   POST /_sandbox/invalidate_cursors
    POST /_sandbox/regime       {"regime": "tier3" | "non_marketplace" | "unlimited"}
    GET  /_sandbox/state   GET /_sandbox/metrics   GET /_sandbox/requests
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .methods import channel_object
from .seed import churn
from .workspace import SlackError, Workspace, format_ts

if TYPE_CHECKING:
    from .app import SandboxApp

Body = dict[str, Any]


def snapshot(ws: Workspace) -> Body:
    """The whole truth: channels, users, every live message, and what was deleted when (§6.1.9)."""
    return {
        "now": ws.now,
        "team_id": ws.team_id,
        "channels": [channel_object(ws, ch) for ch in ws.channels.values()],
        "users": [dict(u) for u in ws.users.values()],
        "messages": {
            cid: [ws.render(ch, us) for us in ws.all_ts(ch)] for cid, ch in ws.channels.items()
        },
        "deleted": {
            cid: {format_ts(us): at for us, at in ch.deleted.items()}
            for cid, ch in ws.channels.items()
        },
        "deleted_channels": dict(ws.deleted_channels),
    }


def _clock(app: SandboxApp, body: Body) -> Body:
    if "set" in body:
        app.workspace.now = float(body["set"])
    app.workspace.advance(float(body.get("advance", 0)))
    return {"now": app.workspace.now}


def _message_op(name: str) -> Callable[[SandboxApp, Body], Body]:
    def op(app: SandboxApp, body: Body) -> Body:
        ws, b = app.workspace, dict(body)
        channel = b.pop("channel")
        if name == "delete":
            ws.delete(channel, b["ts"])
            return {}
        if name in ("post", "reply"):
            text = b.pop("text")
            thread_ts = b.pop("thread_ts", None)
            return {"message": ws.post(channel, text, thread_ts=thread_ts, **b)}
        if name == "edit":
            return {"message": ws.edit(channel, b["ts"], b["text"], user=b.get("user"))}
        method = ws.react if name == "react" else ws.unreact
        return {"message": method(channel, b["ts"], b["name"], user=b.get("user"))}

    return op


def _channel_op(action: Callable[[Workspace, str], None]) -> Callable[[SandboxApp, Body], Body]:
    def op(app: SandboxApp, body: Body) -> Body:
        action(app.workspace, body["channel"])
        return {}

    return op


def _fault(app: SandboxApp, body: Body) -> Body:
    options = dict(body)
    return {"fault": app.faults.add(options.pop("kind"), **options).id}


def _regime(app: SandboxApp, body: Body) -> Body:
    app.limiter.regime = body["regime"]
    return {"regime": app.limiter.regime}


def _deactivate_user(app: SandboxApp, body: Body) -> Body:
    app.workspace.deactivate_user(body["user"])
    return {}


def _churn(app: SandboxApp, body: Body) -> Body:
    edit_ratio, delete_ratio = (
        float(body.get("edit_ratio", 0.05)),
        float(body.get("delete_ratio", 0.02)),
    )
    return dict(
        churn(
            app.workspace,
            int(body.get("seed", 0)),
            edit_ratio=edit_ratio,
            delete_ratio=delete_ratio,
        )
    )


def _clear_faults(app: SandboxApp, body: Body) -> Body:
    app.faults.clear()
    return {}


def _invalidate_cursors(app: SandboxApp, body: Body) -> Body:
    app.cursors.invalidate()
    return {}


def _state(app: SandboxApp, body: Body) -> Body:
    return snapshot(app.workspace)


def _metrics(app: SandboxApp, body: Body) -> Body:
    return app.metrics.as_dict()


def _requests(app: SandboxApp, body: Body) -> Body:
    return {"requests": list(app.journal)}


OPS: dict[str, Callable[[SandboxApp, Body], Body]] = {
    "clock": _clock,
    **{name: _message_op(name) for name in ("post", "reply", "edit", "delete", "react", "unreact")},
    "archive": _channel_op(lambda ws, c: ws.archive(c)),
    "unarchive": _channel_op(lambda ws, c: ws.archive(c, archived=False)),
    "remove_bot": _channel_op(lambda ws, c: ws.set_bot_member(c, False)),
    "add_bot": _channel_op(lambda ws, c: ws.set_bot_member(c, True)),
    "delete_channel": _channel_op(lambda ws, c: ws.delete_channel(c)),
    "deactivate_user": _deactivate_user,
    "churn": _churn,
    "fault": _fault,
    "clear_faults": _clear_faults,
    "invalidate_cursors": _invalidate_cursors,
    "regime": _regime,
    "state": _state,
    "metrics": _metrics,
    "requests": _requests,
}


def handle(app: SandboxApp, op: str, body: Body) -> tuple[int, Body]:
    """Run one control op → (HTTP status, body): bad input 400, unknown op 404, Slack errors 200."""
    action = OPS.get(op)
    if action is None:
        return 404, {"ok": False, "error": "unknown_op", "ops": sorted(OPS)}
    try:
        result = action(app, body)
    except SlackError as exc:
        return 200, {"ok": False, "error": exc.error}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"ok": False, "error": "invalid_arguments", "detail": str(exc)}
    return 200, {"ok": True, **result}
