"""The sandbox speaks real GraphQL over real HTTP: the `gql` client (requests transport) runs the
connector's page query and filter against it, with the schema fetched by introspection and every query
validated client-side against it, and the control plane takes JSON and form bodies."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport

from connectors.linear.graphql import ISSUES_QUERY, issue_filter
from connectors.linear.sandbox import Sandbox, start_in_thread
from pipeline.cli import main

from .conftest import walk


@pytest.fixture
def url(sandbox: Sandbox) -> Iterator[str]:
    with sandbox.serving() as endpoint:
        yield endpoint


def client(url: str, token: str) -> Client:
    transport = RequestsHTTPTransport(url=url, headers={"Authorization": token}, retries=0)
    return Client(transport=transport, fetch_schema_from_transport=True)


def test_gql_walks_the_connector_query_over_http(sandbox: Sandbox, url: str) -> None:
    seen, after = [], None
    with client(url, sandbox.token) as session:
        while True:
            since = "2025-10-01T00:00:00.000Z"
            variables = {"first": 25, "after": after, "filter": issue_filter("ENG", since)}
            request = GraphQLRequest(ISSUES_QUERY, variable_values=variables)
            issues = session.execute(request)["issues"]
            seen += [n["identifier"] for n in issues["nodes"]]
            if not issues["pageInfo"]["hasNextPage"]:
                break
            after = issues["pageInfo"]["endCursor"]

    expected = walk(sandbox, updatedAt={"gte": since}, team={"key": {"eq": "ENG"}})
    assert seen == [n["identifier"] for n in expected] and len(seen) > 10


def test_gql_sees_linear_errors_with_their_codes(sandbox: Sandbox, url: str) -> None:
    sandbox.set_limits(requests_per_hour=2)  # introspection spends one
    with client(url, sandbox.token) as session:
        session.execute(gql("{ viewer { id email } }"))
        with pytest.raises(TransportQueryError) as refused:
            session.execute(gql("{ viewer { id } }"))

    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "RATELIMITED"


def test_control_plane_takes_json_and_form_bodies(sandbox: Sandbox, url: str) -> None:
    root = url.removesuffix("/graphql")

    created = httpx.post(
        f"{root}/_sandbox/create_issue", json={"team": "OPS", "title": "Via JSON", "priority": 2}
    )
    edited = httpx.post(
        f"{root}/_sandbox/update_issue",
        data={"id": created.json()["issue"]["id"], "state": "Done", "estimate": "5"},
    )
    clock = httpx.post(f"{root}/_sandbox/clock", data={"advance": "3600"})
    unknown = httpx.post(f"{root}/_sandbox/explode", json={})

    assert (
        created.json()["issue"]["identifier"] == "OPS-21"
        and created.json()["issue"]["priority"] == 2.0
    )
    assert (
        edited.json()["issue"]["state"]["name"] == "Done"
        and edited.json()["issue"]["estimate"] == 5.0
    )
    assert clock.json()["now"] == sandbox.now
    assert unknown.status_code == 404 and "create_issue" in unknown.json()["ops"]
    assert httpx.get(f"{root}/_sandbox/metrics").json()["calls"] == 0


def test_serve_binds_then_prints_one_banner_line() -> None:
    code = "from connectors.linear.sandbox import serve; serve(0, seed=2)"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            url = banner.split(" on ")[1].split()[0]
            token = banner.rsplit("LINEAR_API_KEY=", 1)[1].strip()
            answer = httpx.post(
                url, json={"query": "{ viewer { name } }"}, headers={"Authorization": token}
            )
        finally:
            process.terminate()

    assert banner.startswith("Linear sandbox on http://127.0.0.1:") and "(seed 2)" in banner
    assert answer.json()["data"]["viewer"]["name"] == "Ada Lovelace"


def test_a_busy_port_is_one_line_and_exit_1(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    url, stop = start_in_thread(sandbox)
    port = int(url.split(":")[2].split("/")[0])
    try:
        code = main(["sandbox", "linear", "--port", str(port)])
    finally:
        stop()

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == (
        f"error: port {port} is already in use: stop what listens there or pick another with --port\n"
    )


def test_webhooks_are_signed_and_delivered_in_order(clock: object) -> None:
    received: list[tuple[str, bytes]] = []

    def receiver(environ: dict[str, object], start_response: object) -> list[bytes]:
        body = environ["wsgi.input"].read(int(str(environ["CONTENT_LENGTH"])))  # type: ignore[attr-defined]
        received.append((str(environ["HTTP_LINEAR_SIGNATURE"]), body))
        start_response("200 OK", [("Content-Length", "0")])  # type: ignore[operator]
        return [b""]

    hook_url, stop = start_in_thread(receiver)  # type: ignore[arg-type]
    sandbox = Sandbox(seed=1, clock=clock, webhook_url=hook_url, webhook_secret="s3cret")
    try:
        sandbox.update_issue("ENG-1", title="Renamed")
        sandbox.trash("ENG-2")
        assert sandbox.webhooks is not None
        sandbox.webhooks.flush()
    finally:
        stop()
        if sandbox.webhooks is not None:
            sandbox.webhooks.close()

    assert [b'"action":"update"' in body for _, body in received] == [True, False]
    assert all(signature == sandbox.webhooks.sign(body) for signature, body in received)
    assert b'"updatedFrom":{"title":' in received[0][1]


def test_a_timeout_over_real_http_is_a_504_from_the_gateway(sandbox: Sandbox, url: str) -> None:
    sandbox.faults.timeout()

    response = httpx.post(
        url, json={"query": "{ viewer { id } }"}, headers={"Authorization": sandbox.token}
    )

    assert response.status_code == 504


def test_limits_and_settings_are_set_through_the_control_plane(sandbox: Sandbox, url: str) -> None:
    root = url.removesuffix("/graphql")

    limits = httpx.post(
        f"{root}/_sandbox/limits", data={"requests_per_hour": "10", "status": "429"}
    )
    settings = httpx.post(
        f"{root}/_sandbox/settings", json={"archive_bumps_updated_at": True, "sort": "asc"}
    )
    fault = httpx.post(
        f"{root}/_sandbox/fault", data={"kind": "partial", "page": "1", "times": "2"}
    )

    assert (limits.json()["requests_per_hour"], limits.json()["status"]) == (10.0, 429)
    assert settings.json()["archive_bumps_updated_at"] is True and sandbox.app.sort == "asc"
    assert fault.json()["ok"] and sandbox.faults.active[0].times == 2
