"""Receiving webhooks over real HTTP (DESIGN §8): verify first, store, deduplicate, refuse cleanly."""

from __future__ import annotations

import socket

import httpx
import pytest
import sqlalchemy as sa

from pipeline.serve import bind
from pipeline.subscriptions import Subscription, ensure_subscription
from pipeline.testing import Db
from pipeline.webhooks.receiver import RECEIPTS_APPLICATION
from tests.webhooks.conftest import SECRET, Served, envelope, message


def test_signed_delivery_is_stored_and_acknowledged(served: Served) -> None:
    response = served.post(envelope(message(), event_id="Ev1"))

    assert (response.status_code, response.json()) == (200, {"ok": True, "duplicate": False})
    [row] = served.inbox()
    assert (
        row["tenant_id"],
        row["connector"],
        row["stream"],
        row["delivery_id"],
        row["status"],
    ) == (
        "default",
        "slack",
        "messages",
        "Ev1",
        "pending",
    )


@pytest.mark.parametrize(
    ("secret", "age_s", "headers", "why"),
    [
        pytest.param("another-secret", 0, {}, "does not match", id="wrong-secret"),
        pytest.param(SECRET, 301, {}, "more than 300 s", id="stale-timestamp"),
        pytest.param(SECRET, -301, {}, "more than 300 s", id="future-timestamp"),
        pytest.param(SECRET, 0, {"X-Slack-Signature": ""}, "required", id="missing-signature"),
        pytest.param(SECRET, 0, {"X-Slack-Signature": "v0=00"}, "does not match", id="garbage"),
    ],
)
def test_bad_missing_or_stale_signature_is_401_and_stores_nothing(
    served: Served, secret: str, age_s: float, headers: dict[str, str], why: str
) -> None:
    response = served.post(envelope(message()), secret=secret, age_s=age_s, headers=headers)

    assert response.status_code == 401
    assert why in response.json()["error"]
    assert SECRET not in response.text and "Traceback" not in response.text
    assert served.inbox() == []


def test_a_signature_just_inside_the_window_is_accepted(served: Served) -> None:
    assert served.post(envelope(message()), age_s=299).status_code == 200


def test_replayed_delivery_is_200_and_changes_nothing(served: Served) -> None:
    payload = envelope(message(), event_id="EvSAME")
    served.post(payload)
    [run] = served.apply()

    replay = served.post(payload, headers={"X-Slack-Retry-Num": "1"})

    assert (replay.status_code, replay.json()["duplicate"]) == (200, True)
    assert served.apply() == []
    assert len(served.inbox()) == 1
    assert [e["run_id"] for e in served.db.events()] == [run.id]


def test_url_verification_answers_the_challenge_and_stores_nothing(served: Served) -> None:
    response = served.post({"type": "url_verification", "token": "t", "challenge": "c-42"})

    assert (response.status_code, response.json()) == (200, {"challenge": "c-42"})
    assert served.inbox() == []


def test_an_unsigned_url_verification_is_refused(served: Served) -> None:
    response = served.post({"type": "url_verification", "challenge": "c"}, secret="wrong")

    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b'{"type": "event_callback", "event": {"type": "message"}}', id="no-channel"),
        pytest.param(b'{"type": "event_callback"}', id="no-event"),
        pytest.param(b'["a list"]', id="not-an-object"),
        pytest.param(
            b'{"type": "event_callback", "event": {"type": "message", "channel": "C1", "ts": "1.1"}}',
            id="no-event-id",
        ),
    ],
)
def test_malformed_body_is_400_with_one_line_and_stores_nothing(
    served: Served, body: bytes
) -> None:
    response = served.post(body)

    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed payload: ")
    assert "\n" not in response.json()["error"] and "Traceback" not in response.text
    assert served.inbox() == []


def test_body_over_the_limit_is_413(served: Served) -> None:
    huge = envelope(message(text="x" * (1 << 20)))

    assert served.post(huge).status_code == 413
    assert served.inbox() == []


def test_events_we_do_not_sync_are_acknowledged_and_not_kept(served: Served) -> None:
    reaction = {"type": "reaction_added", "user": "U1", "reaction": "tada", "item": {}}

    response = served.post(envelope(reaction))

    assert (response.status_code, response.json()["ignored"]) == (200, True)
    assert served.inbox() == []


def test_unknown_connector_is_404(served: Served) -> None:
    assert served.post(envelope(message()), connector="acme").status_code == 404


def test_no_secret_configured_is_401_naming_nothing_secret(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")

    response = served.post(envelope(message()))

    assert response.status_code == 401 and "no secret" in response.json()["error"]
    assert served.inbox() == []


def test_tenant_secret_comes_from_its_subscription(
    served: Served, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_SLACK_SECRET", "acme-secret-9876")
    sub = Subscription(
        "slack", "messages", "acme", config={"signing_secret_env": "ACME_SLACK_SECRET"}
    )
    ensure_subscription(db.engine, sub, db.clock.now())

    refused = served.post(envelope(message()), tenant="acme")
    accepted = served.post(envelope(message()), tenant="acme", secret="acme-secret-9876")

    assert (refused.status_code, accepted.status_code) == (401, 200)
    assert [r["tenant_id"] for r in served.inbox()] == ["acme"]


def test_healthz_and_metrics(served: Served) -> None:
    served.post(envelope(message()))
    served.post(envelope(message()), secret="wrong")

    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}
    metrics = httpx.get(f"{served.url}/metrics").text
    assert 'pipeline_webhook_deliveries_total{connector="slack",outcome="stored"}' in metrics
    assert 'outcome="refused_401"' in metrics
    assert SECRET not in metrics


def test_delivery_ids_are_unique_per_tenant(served: Served) -> None:
    served.post(envelope(message(), event_id="Ev9"))
    served.post(envelope(message(), event_id="Ev9"), tenant="other")

    assert sorted(r["tenant_id"] for r in served.inbox()) == ["default", "other"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # its own receipts pool
def test_a_receipt_connection_the_server_dropped_is_replaced_at_once(
    served: Served, db: Db
) -> None:
    assert served.post(envelope(message(ts="1767225000.000001"))).status_code == 200
    with db.engine.connect() as conn:  # a server restart, as the receipts' sessions see it
        dropped = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": RECEIPTS_APPLICATION},
        ).scalar_one()

    response = served.post(envelope(message(ts="1767225000.000002")))

    assert (dropped >= 1, response.status_code) == (True, 200)
    assert [r["status"] for r in served.inbox()] == ["pending", "pending"]


def test_the_listening_socket_is_tcp_so_keep_alive_answers_are_not_held_back() -> None:
    """asyncio sets TCP_NODELAY on accepted sockets whose protocol is TCP; without it each answer
    on a kept-alive connection waited ~40 ms for the sender's delayed ACK (Nagle)."""
    sock = bind("127.0.0.1", 0)
    try:
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert (sock.proto, bool(nodelay)) == (socket.IPPROTO_TCP, True)
    finally:
        sock.close()
