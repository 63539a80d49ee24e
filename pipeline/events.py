"""Typed change events (DESIGN §5 "Events"): one pydantic payload model per event type.

`<entity>_created`, `<entity>_edited`, `<entity>_deleted`, never `_updated`. The writer validates
every payload with these models before insert; readers hand the same models to consumers.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model, with_config
from typing_extensions import TypedDict

EVENT_NAMESPACE = uuid.UUID("6f1c3a52-9b1e-4c57-8a43-2f0f7f3b9d10")
ACTIONS = {"created": "created", "updated": "edited", "deleted": "deleted"}


class FieldChange(BaseModel):
    """One entry of `changedFields`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    from_: Any = Field(alias="from")
    to: Any


class ChangePayload(BaseModel):
    """Common payload of every change event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entityId: uuid.UUID
    externalId: str
    provider: str
    source: Literal["integration"] = "integration"


class CreatedPayload(ChangePayload):
    changedFields: dict[str, FieldChange]


class EditedPayload(ChangePayload):
    changedFields: dict[str, FieldChange] = Field(min_length=1)


class DeletedPayload(ChangePayload):
    pass


_BASES: dict[str, type[ChangePayload]] = {
    "created": CreatedPayload,
    "edited": EditedPayload,
    "deleted": DeletedPayload,
}
EVENT_MODELS: dict[str, type[ChangePayload]] = {}


# Shapes of the payload models as TypedDicts, for the writer's per-page check: pydantic validates
# them without building a model per event and one per changed field (which cost more than the
# insert). Each is at least as strict as its model (a `from_` key, which the model accepts by name,
# is refused), and the writer re-validates with the models whenever a shape refuses a page; so the
# models keep the last word, and their errors are the ones raised.
_FieldChangeShape = TypedDict("_FieldChangeShape", {"from": Any, "to": Any})
_FieldChangeShape.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


@with_config(ConfigDict(extra="forbid"))
class _DeletedShape(TypedDict):
    entityId: uuid.UUID
    externalId: str
    provider: str
    source: NotRequired[Literal["integration"]]


class _CreatedShape(_DeletedShape):
    changedFields: dict[str, _FieldChangeShape]


class _EditedShape(_DeletedShape):
    changedFields: Annotated[dict[str, _FieldChangeShape], Field(min_length=1)]


_SHAPES: dict[type[ChangePayload], Any] = {
    CreatedPayload: _CreatedShape,
    EditedPayload: _EditedShape,
    DeletedPayload: _DeletedShape,
}
_PAGE_CHECKS: dict[str, TypeAdapter[list[Any]]] = {}


def page_check(type_: str) -> TypeAdapter[list[Any]]:
    """A validator for a list of payloads of one event type (the writer calls it once per page).

    For the models `register_entity` declares (a base model, nothing added), the base's TypedDict
    shape; for any other model, `list[Model]` itself.
    """
    check = _PAGE_CHECKS.get(type_)
    if check is None:
        model = payload_model(type_)
        base = next((b for b in _SHAPES if issubclass(model, b)), None)
        plain = (
            base is not None
            and model.model_fields.keys() == base.model_fields.keys()
            and model.__pydantic_decorators__ == base.__pydantic_decorators__
            and model.model_config == base.model_config
        )
        item = _SHAPES[base] if plain and base is not None else model
        check = _PAGE_CHECKS[type_] = TypeAdapter(list[item])  # type: ignore[valid-type]
    return check


def event_type(entity: str, operation: str) -> str:
    """`message` + `updated` → `message_edited`."""
    return f"{entity}_{ACTIONS[operation]}"


def register_entity(entity: str) -> None:
    """Declare the three event types of an entity (`MessageCreated`, `MessageEdited`, …)."""
    for suffix, base in _BASES.items():
        name = f"{entity}_{suffix}"
        if name not in EVENT_MODELS:
            title = "".join(part.title() for part in name.split("_"))
            EVENT_MODELS[name] = create_model(title, __base__=base)


def payload_model(type_: str) -> type[ChangePayload]:
    """The payload model of an event type; unknown types are a programming error."""
    try:
        return EVENT_MODELS[type_]
    except KeyError:
        raise KeyError(f"unknown event type {type_!r}; known: {sorted(EVENT_MODELS)}") from None


def event_id(subscription_id: str, external_id: str, type_: str, version: int) -> str:
    """Deterministic: replaying a page after a crash produces the same ids (DESIGN §4).

    `str(uuid.uuid5(EVENT_NAMESPACE, name))`, computed without building a `uuid.UUID` (a third of the
    cost, once per event).
    """
    name = f"{subscription_id}\x1f{external_id}\x1f{type_}\x1f{version}"
    return _uuid_text(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest(), 0x50)


_last_v7 = [0, 0]  # [unix ms, sequence] of the last time-ordered id


def time_ordered_uuid() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, a 12-bit sequence, 62 random bits.

    New entity ids are created in time order, so their primary-key inserts land at the index's end
    instead of scattering over it (bench/README.md). The sequence keeps ids made within one
    millisecond in order (RFC 9562 §6.2 method 1); a full sequence borrows the next millisecond.
    """
    ms = time.time_ns() // 1_000_000
    last_ms, seq = _last_v7
    if ms <= last_ms:
        ms, seq = (last_ms, seq + 1) if seq < 0xFFF else (last_ms + 1, 0)
    else:
        seq = 0
    _last_v7[0], _last_v7[1] = ms, seq
    raw = ms.to_bytes(6, "big") + seq.to_bytes(2, "big") + os.urandom(8)
    return _uuid_text(raw, 0x70)


_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def _uuid_text(digest: bytes, version: int) -> str:
    """RFC 4122 text of the first 16 bytes with the version nibble and variant bits set."""
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | version
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def build_payload(
    entity_id: str, external_id: str, provider: str, changed_fields: dict[str, Any] | None
) -> dict[str, Any]:
    """The JSON payload of a change event; `_deleted` events carry no `changedFields`."""
    payload: dict[str, Any] = {
        "entityId": entity_id,
        "externalId": external_id,
        "provider": provider,
        "source": "integration",
    }
    if changed_fields is not None:
        payload["changedFields"] = changed_fields
    return payload
