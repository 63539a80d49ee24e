"""An in-process connector shaped like the README's Acme example, with a `ContractSandbox`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel

from pipeline import BearerToken, CursorPaginator, RestStream, ScopeCheckpoint, connector
from pipeline.testing import FakeClock
from tests.sdk.acme_api import TOKEN, AcmeApi

demo = connector("demo", base_url="https://demo.invalid/v2/", auth=BearerToken(env="DEMO_TOKEN"))


class Ticket(BaseModel):
    id: str
    subject: str
    status: str
    tags: list[str] = []
    updated_at: datetime


@demo.stream
class Tickets(RestStream[Ticket]):
    """Demo tickets (the README's Acme stream, in process)."""

    name, entity, model, path = "tickets", "ticket", Ticket, "tickets"
    records_at = "data"
    paginator = CursorPaginator(next_at="meta.next_cursor", param="cursor")
    high_water, volatile, unordered = "updated_at", {"updated_at"}, {"tags"}
    columns = ("subject", "status")

    def params(self, checkpoint: ScopeCheckpoint) -> dict[str, object]:
        return {"updated_since": checkpoint.high_water, "limit": 100}


class DemoSandbox:
    """`ContractSandbox` over the fake Acme API, served in process."""

    token = TOKEN

    def __init__(self) -> None:
        self.api = AcmeApi(tickets=7, page_size=3)

    def settings(self) -> dict[str, Any]:
        return {
            "transport": httpx.WSGITransport(app=self.api),
            "api_url": "http://demo.sandbox/v2/",
            "token": TOKEN,
            "http_clock": FakeClock(),
        }

    def edit(self, stream: str) -> tuple[str, set[str]]:
        self.api.edit("4", status="closed")
        return "4", {"status"}

    def delete(self, stream: str) -> str:
        self.api.delete("2")
        return "2"

    def fail(self, after_calls: int, status: int = 500) -> None:
        self.api.fail_after, self.api.fail_status = after_calls, status

    def heal(self) -> None:
        self.api.fail_after = None
