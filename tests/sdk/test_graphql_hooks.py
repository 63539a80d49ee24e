"""SDK hooks a GraphQL source needs: `check` reading 4xx error bodies and a smaller page on
`PageTooLargeError` (end to end: tests/connectors/linear)."""

from __future__ import annotations

import json

import httpx
import pytest

from pipeline import BudgetSpent, PageRequest, PageTooLargeError, RateLimitedError, SourceError
from pipeline.http import HttpClient
from pipeline.http.clock import FakeClock
from pipeline.streams import _halved


def graphql_400(request: httpx.Request) -> httpx.Response:
    return httpx.Response(400, json={"errors": [{"extensions": {"code": "RATELIMITED"}}]})


def check(response: httpx.Response) -> None:
    errors = response.json().get("errors") or []
    if errors and errors[0]["extensions"]["code"] == "RATELIMITED":
        raise RateLimitedError("limited", retry_after_s=1.0)


def client(check_errors: bool) -> HttpClient:
    transport = httpx.MockTransport(graphql_400)
    return HttpClient("http://api.test/graphql", transport=transport, clock=FakeClock(),
                      check=check, check_errors=check_errors, max_wait_s=0)  # fmt: skip


def test_check_errors_lets_check_map_a_400_body() -> None:
    with pytest.raises(SourceError) as plain:
        client(check_errors=False).request("POST", "", json={})
    with pytest.raises(BudgetSpent) as checked:  # a rate limit longer than max_wait_s: throttled
        client(check_errors=True).request("POST", "", json={})

    assert type(plain.value) is SourceError and "HTTP 400" in str(plain.value)
    assert checked.value.retry_after_s is not None and checked.value.retry_after_s >= 1.0


def test_halved_page_size_in_the_json_body() -> None:
    request = PageRequest("", json={"query": "q", "variables": {"first": 250, "after": "c"}})

    smaller = _halved(request, "variables.first")
    one = _halved(PageRequest("", json={"variables": {"first": 1}}), "variables.first")

    assert smaller is not None and smaller.json["variables"] == {"first": 125, "after": "c"}
    assert request.json["variables"]["first"] == 250 and one is None
    assert _halved(request, None) is None
    assert issubclass(PageTooLargeError, SourceError)
    assert json.dumps(smaller.json)
