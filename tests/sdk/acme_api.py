"""A small fake of the Acme Helpdesk API for the README's connector: cursor pages over live data."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

TOKEN = "acme-test-token"


class AcmeApi:
    """`GET /v2/tickets?updated_since&limit&cursor`, oldest change first, Bearer auth."""

    def __init__(self, tickets: int = 5, page_size: int = 2) -> None:
        self.page_size = page_size
        self.tickets = {
            str(i): {
                "id": str(i),
                "subject": f"ticket {i}",
                "status": "open",
                "tags": ["a", "b"],
                "updated_at": f"2026-01-01T00:00:{i:02d}Z",
            }
            for i in range(1, tickets + 1)
        }
        self.calls = 0
        self.fail_after: int | None = None
        self.fail_status = 500

    def delete(self, id: str) -> None:
        del self.tickets[id]

    def edit(self, id: str, **fields: Any) -> None:
        self.tickets[id].update(fields, updated_at=f"2026-01-02T00:00:{int(id):02d}Z")

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        if self.fail_after is not None:
            if self.fail_after <= 0:
                return _json(start, f"{self.fail_status} Failing", {"error": "injected"})
            self.fail_after -= 1
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {TOKEN}":
            return _json(start, "401 Unauthorized", {"error": "bad token"})
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        since = query.get("updated_since", "")
        rows = sorted(
            (t for t in self.tickets.values() if t["updated_at"] >= since),
            key=lambda t: (t["updated_at"], t["id"]),
        )
        start_at = int(query.get("cursor", "0"))
        page = rows[start_at : start_at + self.page_size]
        more = start_at + self.page_size < len(rows)
        meta = {"next_cursor": str(start_at + self.page_size) if more else None}
        return _json(start, "200 OK", {"data": page, "meta": meta})


def _json(start: Callable[..., Any], status: str, body: Any) -> Iterable[bytes]:
    start(status, [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(api: AcmeApi) -> tuple[str, Callable[[], None]]:
    """Serve the fake on a free port from a thread; returns (base URL, stop)."""
    server = make_server("127.0.0.1", 0, api, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}/v2/", stop
