"""The .avsc files themselves: documented, self-contained, coded like the form."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas import catalog
from schemas.avrotypes import index
from schemas.errors import SchemaError
from schemas.lint import lint_schema
from schemas.validate import validate_record
from tests import builders


def _all_schemas() -> list[tuple[str, int | None]]:
    found: list[tuple[str, int | None]] = [(name, None) for name in catalog.NAMES]
    for name in catalog.NAMES:
        found += [(name, version) for version in catalog.released_versions(name)]
    return found


@pytest.mark.parametrize(("name", "version"), _all_schemas())
def test_every_schema_passes_the_house_rules(name: str, version: int | None) -> None:
    """Every field and named type has a doc; enums carry their form codes."""
    assert lint_schema(catalog.load_schema(name, version)) == []


def test_lint_finds_a_field_without_doc_and_a_bad_union_default() -> None:
    schema = catalog.load_schema("EnumeratorEvent")
    del schema["fields"][0]["doc"]
    schema["fields"].append({"name": "x", "type": ["int", "null"], "default": None, "doc": "d"})
    problems = lint_schema(schema)
    assert "EnumeratorEvent.event_id: missing doc" in problems
    assert "EnumeratorEvent.x: a union's default must match its first branch" in problems


def test_lint_finds_an_enum_whose_doc_lacks_a_code() -> None:
    schema = catalog.load_schema("HouseholdSubmission")
    sex = index(schema).names["id.go.bps.regsosek.Sex"]
    assert sex["form_codes"] == [1, 2]
    raw_sex = _find(schema, "Sex")
    raw_sex["doc"] = raw_sex["doc"].replace("2=FEMALE", "2 = FEMALE")
    assert lint_schema(schema) == [
        "enum Sex: doc does not give the form code of FEMALE as '2=FEMALE'"
    ]


def _find(node: Any, enum_name: str) -> dict[str, Any]:
    if isinstance(node, dict):
        if node.get("type") == "enum" and node.get("name") == enum_name:
            return node
        children = [node.get("type"), node.get("items"), *node.get("fields", [])]
    elif isinstance(node, list):
        children = node
    else:
        children = []
    for child in children:
        try:
            return _find(child, enum_name)
        except LookupError:
            continue
    raise LookupError(enum_name)


def test_form_codes_map_symbols_back_to_the_questionnaire() -> None:
    assert catalog.form_codes("InterviewResult")["REFUSED"] == 4
    assert catalog.form_codes("CookingFuel")["NO_COOKING_AT_HOME"] == 0
    assert catalog.form_codes("WaterWasteDistance")["UNKNOWN"] == 8
    assert catalog.form_codes("EducationLevel")["S3"] == 22
    assert catalog.form_codes("UrbanRural", "ValidatedSubmission") == {"URBAN": 1, "RURAL": 2}
    with pytest.raises(SchemaError):
        catalog.form_codes("EnumeratorEventType", "EnumeratorEvent")  # not a form item


def test_subjects_follow_the_topics() -> None:
    assert catalog.SUBJECTS == {
        "regsosek.submissions-value": "HouseholdSubmission",
        "regsosek.enumerator-events-value": "EnumeratorEvent",
        "regsosek.submissions.valid-value": "ValidatedSubmission",
        "regsosek.submissions.rejected-value": "Rejection",
        "regsosek.reviews-value": "ReviewDecision",
    }
    assert catalog.subject_for("Rejection") == "regsosek.submissions.rejected-value"


def test_validated_submission_is_self_contained_with_the_current_household_schema() -> None:
    schema = catalog.load_schema("ValidatedSubmission")
    submission_field = schema["fields"][0]
    assert submission_field["name"] == "submission"
    assert submission_field["type"] == catalog.load_schema("HouseholdSubmission")
    assert catalog.parsed_schema("ValidatedSubmission")["name"].endswith("ValidatedSubmission")


def test_load_schema_returns_a_copy_the_caller_may_edit() -> None:
    first = catalog.load_schema("Rejection")
    first["fields"].clear()
    assert catalog.load_schema("Rejection")["fields"]


def test_household_v1_lacks_what_v2_adds_with_defaults() -> None:
    v1 = index(catalog.load_schema("HouseholdSubmission", 1)).names
    v2 = index(catalog.load_schema("HouseholdSubmission", 2)).names
    added = {
        "Location": "gps_accuracy_m",
        "Enumeration": "device_id",
        "Assets": "smartphone",
    }
    for record, field_name in added.items():
        full = f"id.go.bps.regsosek.{record}"
        assert field_name not in [f["name"] for f in v1[full]["fields"]]
        new = next(f for f in v2[full]["fields"] if f["name"] == field_name)
        assert new["default"] is None
    assert catalog.load_schema("HouseholdSubmission") == catalog.load_schema(
        "HouseholdSubmission", 2
    )


def test_region_codes_keep_their_form_widths_as_strings() -> None:
    location = builders.location()
    widths = {"province_code": 2, "regency_code": 2, "district_code": 3, "village_code": 3}
    for key, width in widths.items():
        assert isinstance(location[key], str)
        assert len(location[key]) == width
    full = "".join(location[key] for key in widths)
    assert full == "3509010001"


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("HouseholdSubmission", builders.household_submission),
        ("EnumeratorEvent", builders.enumerator_event),
        ("ValidatedSubmission", builders.validated_submission),
        ("Rejection", builders.rejection),
    ],
)
def test_builders_make_valid_records(name: str, build: Any) -> None:
    assert validate_record(catalog.load_schema(name), build()) == []


def test_builder_v1_record_is_valid_for_released_v1_only() -> None:
    record = builders.household_submission_v1()
    assert validate_record(catalog.load_schema("HouseholdSubmission", 1), record) == []
    assert validate_record(catalog.load_schema("HouseholdSubmission"), record) == []  # defaults


def test_builder_family_has_consistent_niks_and_ages() -> None:
    members = builders.household_submission()["members"]
    assert [m["relationship"] for m in members] == ["HEAD", "SPOUSE", "CHILD", "CHILD"]
    for m in members:
        nik, birth = m["nik"], m["birth_date"]
        assert len(nik) == 16 and nik.startswith("3509")
        day = int(nik[6:8])
        assert day - 40 * (m["sex"] == "FEMALE") == birth.day
        assert nik[8:12] == birth.strftime("%m%y")
        assert m["age"] == builders.age_on(birth, dt.date(2022, 10, 20))
    first, second = builders.household_submission(), builders.household_submission()
    assert first["submission_id"] != second["submission_id"]  # new for every send
    assert first["household_id"] == second["household_id"]  # stable
