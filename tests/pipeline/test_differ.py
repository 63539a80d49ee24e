"""The differ rules of seed-spec §3.3, checklist §10: FieldDiffer, content_hash, explain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.differ import FieldDiffer, content_hash, explain
from pipeline.testing import TESTING_STREAM

AT = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 1, 2, tzinfo=UTC)
ISO = "2026-01-01T10:00:00+00:00"
PLAIN = FieldDiffer()


def change(old: Any, new: Any) -> dict[str, Any]:
    return {"from": old, "to": new}


def rule(
    name: str,
    stored: dict[str, Any] | None,
    incoming: dict[str, Any],
    expected: dict[str, Any],
    differ: FieldDiffer = PLAIN,
) -> Any:
    return pytest.param(differ, stored, incoming, expected, id=name)


@pytest.mark.parametrize(
    ("differ", "stored", "incoming", "expected"),
    [
        # ignore set
        rule(
            "default-ignored-fields-never-reported",
            {"id": "1", "title": "a"},
            {"id": "2", "updatedAt": "x", "provider": "p", "type": "t", "title": "a"},
            {},
        ),
        rule(
            "ignore-adds-a-field",
            {"status": "open"},
            {"status": "closed"},
            {},
            FieldDiffer(ignore={"status"}),
        ),
        rule(
            "unignore-removes-a-default",
            {"deletedAt": None},
            {"deletedAt": "2026-01-01"},
            {"deletedAt": change(None, "2026-01-01")},
            FieldDiffer(unignore={"deletedAt"}),
        ),
        rule(
            "unignore-wins-over-ignore",
            {"x": 1},
            {"x": 2},
            {"x": change(1, 2)},
            FieldDiffer(ignore={"x"}, unignore={"x"}),
        ),
        rule(
            "volatile-field-alone-is-no-change",
            {"seen_at": "a", "title": "t"},
            {"seen_at": "b", "title": "t"},
            {},
            FieldDiffer(ignore=TESTING_STREAM.volatile),
        ),
        # equality normalisations
        rule("datetime-equals-its-iso-string", {"at": ISO}, {"at": AT}, {}),
        rule("numeric-string-equals-number", {"n": "5"}, {"n": 5}, {}),
        rule("number-equals-numeric-string", {"n": 5.0}, {"n": "5"}, {}),
        rule("empty-string-is-not-zero", {"n": ""}, {"n": 0}, {"n": change("", 0)}),
        rule("non-numeric-string-not-coerced", {"n": "five"}, {"n": 5}, {"n": change("five", 5)}),
        rule("bool-is-not-a-number", {"n": True}, {"n": 1}, {"n": change(True, 1)}),
        rule("dict-key-order-irrelevant", {"m": {"a": 1, "b": 2}}, {"m": {"b": 2, "a": 1}}, {}),
        rule(
            "normalisations-apply-when-nested",
            {"m": {"n": "1", "at": AT}},
            {"m": {"n": 1, "at": ISO}},
            {},
        ),
        rule(
            "nested-dict-key-sets-must-match",
            {"m": {"a": 1}},
            {"m": {"a": 1, "b": None}},
            {"m": change({"a": 1}, {"a": 1, "b": None})},
        ),
        rule(
            "list-order-significant",
            {"tags": ["a", "b"]},
            {"tags": ["b", "a"]},
            {"tags": change(["a", "b"], ["b", "a"])},
        ),
        rule(
            "unordered-field-ignores-list-order",
            {"tags": ["a", "b"]},
            {"tags": ["b", "a"]},
            {},
            FieldDiffer(unordered={"tags"}),
        ),
        rule(
            "unordered-field-still-compares-content",
            {"tags": ["a", "b"]},
            {"tags": ["a", "c"]},
            {"tags": change(["a", "b"], ["a", "c"])},
            FieldDiffer(unordered={"tags"}),
        ),
        rule("empty-list-never-equals-empty-dict", {"v": []}, {"v": {}}, {"v": change([], {})}),
        rule(
            "list-never-equals-dict",
            {"v": ["a"]},
            {"v": {"0": "a"}},
            {"v": change(["a"], {"0": "a"})},
        ),
        # presence, None and the output shape
        rule(
            "key-absent-from-incoming-not-reported",
            {"title": "a", "status": "x"},
            {"title": "a"},
            {},
        ),
        rule("none-equals-missing", {"title": "a"}, {"title": "a", "count": None}, {}),
        rule("value-to-none-reported", {"count": 3}, {"count": None}, {"count": change(3, None)}),
        rule("raw-values-reported-not-normalised", {"n": "5"}, {"n": 6}, {"n": change("5", 6)}),
        rule("raw-datetime-reported", {"at": ISO}, {"at": NEXT_DAY}, {"at": change(ISO, NEXT_DAY)}),
        rule(
            "nested-change-reports-whole-top-level-field",
            {"m": {"a": 1, "b": 2}},
            {"m": {"a": 1, "b": 3}},
            {"m": change({"a": 1, "b": 2}, {"a": 1, "b": 3})},
        ),
        rule(
            "only-changed-fields-reported",
            {"title": "a", "status": "open"},
            {"title": "b", "status": "open"},
            {"title": change("a", "b")},
        ),
        # create shape
        rule(
            "create-reports-non-null-fields-from-none",
            None,
            {"id": "1", "title": "a", "status": None, "tags": []},
            {"title": change(None, "a"), "tags": change(None, [])},
        ),
        rule(
            "create-of-only-ignored-or-null-fields-is-noop",
            None,
            {"id": "1", "externalId": "1", "title": None},
            {},
        ),
    ],
)
def test_diff(
    differ: FieldDiffer,
    stored: dict[str, Any] | None,
    incoming: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    assert differ.diff(stored, incoming) == expected


RECORD = {
    "id": "1",
    "title": "t",
    "tags": ["a", "b"],
    "meta": {"x": 1, "y": [1, 2]},
    "seen_at": "2026-01-01",
}


@pytest.mark.parametrize(
    ("other", "options", "is_equal"),
    [
        pytest.param(dict(reversed(RECORD.items())), {}, True, id="top-level-key-order"),
        pytest.param({**RECORD, "meta": {"y": [1, 2], "x": 1}}, {}, True, id="nested-key-order"),
        pytest.param(
            {**RECORD, "tags": ["b", "a"]},
            {"unordered": {"tags"}},
            True,
            id="unordered-list-permutation",
        ),
        pytest.param(
            {**RECORD, "tags": ["b", "a"]}, {}, False, id="ordered-list-permutation-differs"
        ),
        pytest.param(
            {**RECORD, "seen_at": "2026-02-02"},
            {"volatile": {"seen_at"}},
            True,
            id="volatile-field-change",
        ),
        pytest.param(
            {**RECORD, "seen_at": "2026-02-02"}, {}, False, id="non-volatile-change-differs"
        ),
        pytest.param({**RECORD, "title": "u"}, {}, False, id="value-change-differs"),
        pytest.param(
            {**RECORD, "meta": {"x": 1, "y": [1, 3]}},
            {"unordered": {"tags"}},
            False,
            id="nested-value-change-differs",
        ),
    ],
)
def test_content_hash(other: dict[str, Any], options: dict[str, Any], is_equal: bool) -> None:
    assert (content_hash(RECORD, **options) == content_hash(other, **options)) is is_equal


def test_content_hash_is_32_hex_chars() -> None:
    digest = content_hash(RECORD)

    assert len(digest) == 32 and int(digest, 16) >= 0


def test_explain_gives_nested_detail_of_a_changed_field() -> None:
    detail = explain({"a": {"b": 1}, "c": [1]}, {"a": {"b": 2}, "c": [1, 2]})

    assert detail["values_changed"] == {"root['a']['b']": {"old_value": 1, "new_value": 2}}
    assert detail["iterable_item_added"] == {"root['c'][1]": 2}


def test_explain_of_equal_values_is_empty() -> None:
    assert explain({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}) == {}


def test_content_hash_leaves_the_record_as_given() -> None:
    record = {**RECORD, "tags": ["b", "a"], "seen_at": "2026-02-02"}

    content_hash(record, volatile={"seen_at"}, unordered={"tags"})

    assert record == {**RECORD, "tags": ["b", "a"], "seen_at": "2026-02-02"}
    assert list(record["tags"]) == ["b", "a"]
