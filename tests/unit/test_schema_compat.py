"""Avro schema-resolution rules, BACKWARD_TRANSITIVE, with field paths in every problem."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from schemas import catalog
from schemas.compat import check_backward_transitive, check_compatibility


def record(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields), **extra}


def field(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": "Sex", "symbols": list(symbols), **extra}


def test_the_real_history_is_compatible() -> None:
    for name in catalog.NAMES:
        released = {v: catalog.load_schema(name, v) for v in catalog.released_versions(name)}
        assert released, name
        assert check_backward_transitive(catalog.load_schema(name), released) == []


def test_added_field_needs_a_default() -> None:
    old = record("R", field("a", "int"))
    new = record("R", field("a", "int"), field("b", "string"))
    assert check_compatibility(new, old) == [
        "b: field added without a default, so data written before it has no value for it"
    ]
    with_default = record("R", field("a", "int"), field("b", ["null", "string"], default=None))
    assert check_compatibility(with_default, old) == []


def test_removed_field_is_fine() -> None:
    old = record("R", field("a", "int"), field("b", "string"))
    assert check_compatibility(record("R", field("a", "int")), old) == []


def test_removed_enum_symbol_breaks_unless_the_reader_has_a_default() -> None:
    old = record("R", field("sex", enum("MALE", "FEMALE")))
    new = record("R", field("sex", enum("MALE")))
    assert check_compatibility(new, old) == [
        "sex: enum Sex removed symbol(s) FEMALE that existing data may contain (and has no default)"
    ]
    forgiving = record("R", field("sex", enum("MALE", "UNKNOWN", default="UNKNOWN")))
    assert check_compatibility(forgiving, old) == []
    added = record("R", field("sex", enum("MALE", "FEMALE", "OTHER")))
    assert check_compatibility(added, old) == []


def test_changed_type_is_caught_with_its_path() -> None:
    member = record("Member", field("nik", "string"))
    old = record("R", field("members", {"type": "array", "items": member}))
    changed = copy.deepcopy(old)
    changed["fields"][0]["type"]["items"]["fields"][0]["type"] = "long"
    assert check_compatibility(changed, old) == [
        "members[].nik: type changed from string to long, which Avro cannot promote"
    ]


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ],
)
def test_promotions_allowed(writer: str, reader: str) -> None:
    assert (
        check_compatibility(record("R", field("v", reader)), record("R", field("v", writer))) == []
    )


@pytest.mark.parametrize(
    ("writer", "reader"), [("long", "int"), ("double", "float"), ("int", "string")]
)
def test_narrowing_refused(writer: str, reader: str) -> None:
    problems = check_compatibility(record("R", field("v", reader)), record("R", field("v", writer)))
    assert problems == [f"v: type changed from {writer} to {reader}, which Avro cannot promote"]


def test_unions() -> None:
    old = record("R", field("v", "int"))
    assert check_compatibility(record("R", field("v", ["null", "long"])), old) == []
    widened = record("R", field("v", ["null", "int"], default=None))
    assert check_compatibility(record("R", field("v", "int")), widened) == [
        "v: type changed from null to int, which Avro cannot promote"
    ]
    assert check_compatibility(record("R", field("v", ["string", "null"])), widened) == [
        "v: writer type int matches no branch of reader union string or null"
    ]


def test_a_nullable_enum_losing_a_symbol_says_so() -> None:
    old = record("R", field("sex", ["null", enum("MALE", "FEMALE")], default=None))
    new = record("R", field("sex", ["null", enum("MALE")], default=None))
    assert check_compatibility(new, old) == [
        "sex: enum Sex removed symbol(s) FEMALE that existing data may contain (and has no default)"
    ]


def test_nested_records_are_matched_by_name_or_alias() -> None:
    old = record("R", field("loc", record("Location", field("x", "int"))))
    renamed = record("R", field("loc", record("Place", field("x", "int"))))
    assert check_compatibility(renamed, old) == ["loc: record name changed from Location to Place"]
    aliased = record("R", field("loc", record("Place", field("x", "int"), aliases=["Location"])))
    assert check_compatibility(aliased, old) == []


def test_renamed_field_with_alias_reads_old_data() -> None:
    old = record("R", field("nik", "string"))
    new = record("R", field("national_id", "string", aliases=["nik"]))
    assert check_compatibility(new, old) == []


def test_maps_fixed_and_logical_types() -> None:
    old = record(
        "R",
        field("counts", {"type": "map", "values": "int"}),
        field("hash", {"type": "fixed", "name": "H", "size": 16}),
        field("born", {"type": "int", "logicalType": "date"}),
        field("at", {"type": "long", "logicalType": "timestamp-millis"}),
    )
    new = record(
        "R",
        field("counts", {"type": "map", "values": "string"}),
        field("hash", {"type": "fixed", "name": "H", "size": 32}),
        field("born", "int"),
        field("at", {"type": "long", "logicalType": "timestamp-micros"}),
    )
    assert check_compatibility(new, old) == [
        "counts{}: type changed from int to string, which Avro cannot promote",
        "hash: fixed size changed from 16 to 32",
        "born: logical type changed from date to none",
        "at: logical type changed from timestamp-millis to timestamp-micros",
    ]


def test_recursive_records_terminate() -> None:
    node = record("Node", field("next", ["null", "Node"], default=None), field("v", "int"))
    assert check_compatibility(node, node) == []


def test_transitive_checks_every_released_version() -> None:
    v1 = record("R", field("a", "int"), field("b", "string"))
    v2 = record("R", field("a", "int"))
    v3 = record("R", field("a", "int"), field("b", "int", default=0))  # fine vs v2, not vs v1
    assert check_compatibility(v3, v2) == []
    assert check_backward_transitive(v3, {1: v1, 2: v2}) == [
        "v1: b: type changed from string to int, which Avro cannot promote"
    ]


def test_real_household_schema_with_a_breaking_change() -> None:
    current = catalog.load_schema("HouseholdSubmission")
    members = next(f for f in current["fields"] if f["name"] == "members")
    nik = next(f for f in members["type"]["items"]["fields"] if f["name"] == "nik")
    nik["type"] = ["null", "long"]
    released = {v: catalog.load_schema("HouseholdSubmission", v) for v in (1, 2)}
    assert check_backward_transitive(current, released) == [
        "v1: members[].nik: writer type string matches no branch of reader union null or long",
        "v2: members[].nik: writer type string matches no branch of reader union null or long",
    ]
