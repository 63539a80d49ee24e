"""The outbox writer's per-page payload check refuses exactly what the payload models refuse."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

import pipeline.testing  # noqa: F401  (registers the `item` entity)
from pipeline.events import payload_model
from pipeline.outbox import validate_payloads

ENTITY_ID = "6f1c3a52-9b1e-4c57-8a43-2f0f7f3b9d10"


def payload(**overrides: Any) -> dict[str, Any]:
    base = {
        "entityId": ENTITY_ID,
        "externalId": "7",
        "provider": "testing",
        "source": "integration",
        "changedFields": {"title": {"from": None, "to": "x"}},
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not ...}


CASES = [
    pytest.param("item_created", payload(), id="created"),
    pytest.param("item_created", payload(changedFields={}), id="created-nothing-changed"),
    pytest.param("item_created", payload(source=...), id="source-defaults"),
    pytest.param(
        "item_edited", payload(changedFields={"t": {"from_": 1, "to": 2}}), id="from_-by-name"
    ),
    pytest.param("item_deleted", payload(changedFields=...), id="deleted"),
    pytest.param("item_edited", payload(changedFields={}), id="edited-needs-a-field"),
    pytest.param("item_created", payload(entityId="not-a-uuid"), id="bad-entity-id"),
    pytest.param("item_created", payload(source="vendor"), id="bad-source"),
    pytest.param("item_created", payload(extra=1), id="extra-key"),
    pytest.param("item_created", payload(changedFields={"t": {"to": 2}}), id="missing-from"),
    pytest.param(
        "item_created",
        payload(changedFields={"t": {"from": 1, "to": 2, "x": 3}}),
        id="extra-in-change",
    ),
    pytest.param("item_deleted", payload(), id="deleted-with-changes"),
]


@pytest.mark.parametrize(("type_", "body"), CASES)
def test_page_check_agrees_with_the_payload_model(type_: str, body: dict[str, Any]) -> None:
    events = [{"type": "item_created", "payload": payload()}, {"type": type_, "payload": body}]
    try:
        payload_model(type_).model_validate(body)
    except ValidationError as expected:
        with pytest.raises(ValidationError) as raised:
            validate_payloads(events)
        assert str(raised.value) == str(expected)
    else:
        validate_payloads(events)
