"""`event_outbox` holds to the Debezium outbox-router contract of docs/outbox.md (engine.md §3.5).

The connector config is read from the doc itself, so the doc and the table cannot drift apart.
"""

from __future__ import annotations

import json
import re
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pipeline.events import payload_model
from pipeline.testing import Db, ScriptedSource, item

DOC = Path(__file__).parents[2] / "docs" / "outbox.md"
ROUTER = "transforms.outbox."


def connector_config() -> dict[str, str]:
    """The `config` of the sample connector (the JSON block with a `connector.class`)."""
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S)
    [config] = [json.loads(b)["config"] for b in blocks if "connector.class" in b]
    return config  # type: ignore[no-any-return]


def routed_columns(config: dict[str, str]) -> set[str]:
    """Every outbox column the router reads."""
    keys = (
        "table.field.event.id",
        "table.field.event.key",
        "table.field.event.payload",
        "route.by.field",
    )
    fields = {config[ROUTER + key] for key in keys}
    placements = config[ROUTER + "table.fields.additional.placement"].split(",")
    return fields | {placement.split(":")[0] for placement in placements}


def outbox_columns(db: Db) -> dict[str, dict[str, Any]]:
    with warnings.catch_warnings():  # SQLAlchemy has no xid8 type; the txid test checks it by hand
        warnings.filterwarnings("ignore", "Did not recognize type 'xid8'")
        return {c["name"]: c for c in sa.inspect(db.engine).get_columns("event_outbox")}


def test_every_column_the_router_reads_exists_and_is_required(db: Db) -> None:
    columns = outbox_columns(db)

    routed = routed_columns(connector_config())

    assert routed == {
        "event_id",
        "aggregateid",
        "payload",
        "aggregatetype",
        "type",
        "tenant_id",
        "occurred_at",
        "run_id",
    }
    assert all(not columns[name]["nullable"] for name in routed - {"run_id"})


def test_column_types_are_what_the_router_expects(db: Db) -> None:
    types = {name: column["type"] for name, column in outbox_columns(db).items()}

    if db.dialect == "postgresql":
        assert isinstance(types["event_id"], sa.UUID)
        assert isinstance(types["payload"], postgresql.JSONB)
        assert types["occurred_at"].timezone
    else:  # SQLAlchemy's portable Uuid and JSON
        assert isinstance(types["event_id"], sa.CHAR) and types["event_id"].length == 32
        assert isinstance(types["payload"], sa.JSON)
    for name in ("aggregatetype", "aggregateid", "type", "tenant_id"):
        assert isinstance(types[name], sa.String), name


def test_event_id_is_unique(db: Db) -> None:
    unique = sa.inspect(db.engine).get_unique_constraints("event_outbox")

    assert ["event_id"] in [u["column_names"] for u in unique]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_txid_is_an_xid8_filled_by_postgres_and_excluded_from_debezium(db: Db) -> None:
    query = sa.text(
        "SELECT data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = 'event_outbox'"
        " AND column_name = 'txid'"
    )
    indexes = sa.inspect(db.engine).get_indexes("event_outbox")

    [txid] = db.rows(query)
    assert tuple(txid.values()) == ("xid8", "NO", "pg_current_xact_id()")
    assert ["txid", "id"] in [index["column_names"] for index in indexes]
    assert connector_config()["column.exclude.list"] == "public.event_outbox.txid"


def test_a_run_routes_each_event_to_its_entity_topic_keyed_by_entity(db: Db) -> None:
    config = connector_config()
    db.run(ScriptedSource([[item("1"), item("2")]]))

    rows = db.events()

    topic, route_by = config[ROUTER + "route.topic.replacement"], config[ROUTER + "route.by.field"]
    topics = {topic.replace("${routedByValue}", row[route_by]) for row in rows}
    assert topics == {"outbox.event.item"}
    for row in rows:
        payload = row[config[ROUTER + "table.field.event.payload"]]
        assert isinstance(payload, dict)  # a JSON object, expanded by table.expand.json.payload
        model = payload_model(row["type"]).model_validate(payload)
        assert row[config[ROUTER + "table.field.event.key"]] == str(model.entityId)
        uuid.UUID(row[config[ROUTER + "table.field.event.id"]])


def test_the_outbox_is_insert_only_under_replay(db: Db) -> None:
    db.run(ScriptedSource([[item("1"), item("2")]]))
    before = db.events()

    db.run(ScriptedSource([[item("1"), item("2")]]))  # the same page again: no update, no insert

    assert db.events() == before
