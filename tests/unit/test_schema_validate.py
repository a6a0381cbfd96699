"""Pre-send validation names the field path of every problem."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas.catalog import load_schema
from schemas.validate import FieldError, RecordValidator, validate_record
from tests import builders


@pytest.fixture(scope="module")
def validator() -> RecordValidator:
    return RecordValidator(load_schema("HouseholdSubmission"))


def test_valid_record_has_no_errors(validator: RecordValidator) -> None:
    assert validator.validate(builders.household_submission()) == []


def test_wrong_type_names_the_path(validator: RecordValidator) -> None:
    record = builders.household_submission()
    record["members"][2]["nik"] = 3509021501100003
    record["housing"]["floor_area_m2"] = "abc"
    assert validator.validate(record) == [
        FieldError("housing.floor_area_m2", "expected int, got str 'abc'"),
        FieldError("members[2].nik", "expected string, got int 3509021501100003"),
    ]


def test_unknown_enum_symbol_lists_the_allowed_ones(validator: RecordValidator) -> None:
    record = builders.household_submission()
    record["enumeration"]["result"] = "DONE"
    (error,) = validator.validate(record)
    assert error.path == "enumeration.result"
    assert error.problem == (
        "unknown enum symbol 'DONE'; allowed: COMPLETE, INCOMPLETE, NO_RESPONDENT, "
        "REFUSED, MOVED_OR_BUILDING_GONE"
    )


def test_missing_members_and_missing_required_fields(validator: RecordValidator) -> None:
    record = builders.household_submission()
    del record["members"]
    del record["location"]["district_code"]
    del record["housing"]["tenure"]
    assert validator.validate(record) == [
        FieldError("location.district_code", "missing required field"),
        FieldError("housing.tenure", "missing required field"),
        FieldError("members", "missing required field"),
    ]


def test_fields_with_defaults_may_be_omitted(validator: RecordValidator) -> None:
    record = builders.household_submission()
    del record["location"]["gps_accuracy_m"]
    del record["members"][0]["nik"]
    del record["housing"]["installed_power"]
    assert validator.validate(record) == []


def test_unknown_field_catches_typos(validator: RecordValidator) -> None:
    record = builders.household_submission()
    record["members"][1]["nikk"] = "3509026308840002"
    assert validator.validate(record) == [
        FieldError("members[1].nikk", "unknown field (not in record Member)")
    ]


def test_members_must_be_a_list_of_records(validator: RecordValidator) -> None:
    record = builders.household_submission(members={"head": "x"})
    (error,) = validator.validate(record)
    assert error.path == "members"
    assert error.problem.startswith("expected array, got dict")
    record = builders.household_submission(members=["x"])
    assert validator.validate(record) == [
        FieldError("members[0]", "expected record Member, got str 'x'")
    ]


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("revision", True, "expected int, got bool True"),
        ("revision", 2**31, "int out of range [-2147483648, 2147483647]: 2147483648"),
        ("housing", "none", "expected record Housing, got str 'none'"),
    ],
)
def test_scalar_problems(validator: RecordValidator, path: str, value: Any, problem: str) -> None:
    record = builders.household_submission(**{path: value})
    assert validator.validate(record) == [FieldError(path, problem)]


def test_dates_and_timestamps(validator: RecordValidator) -> None:
    record = builders.household_submission()
    record["members"][0]["birth_date"] = "1980-05-12"
    record["enumeration"]["started_at"] = dt.datetime(2022, 10, 20, 9, 5)  # noqa: DTZ001
    record["enumeration"]["finished_at"] = dt.date(2022, 10, 20)
    assert [str(e) for e in validator.validate(record)] == [
        "enumeration.started_at: naive datetime: timestamps need a timezone (e.g. +07:00 for WIB)",
        "enumeration.finished_at: expected timestamp (aware datetime), got date "
        "datetime.date(2022, 10, 20)",
        "members[0].birth_date: expected date, got str '1980-05-12'",
    ]


def test_nullable_nested_record_reports_inner_paths(validator: RecordValidator) -> None:
    record = builders.household_submission()
    record["members"][3]["disability"] = {"seeing": "BLIND"}
    (error,) = validator.validate(record)
    assert error.path == "members[3].disability.seeing"
    assert "unknown enum symbol 'BLIND'" in error.problem


def test_union_of_several_types() -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "v", "type": ["null", "int", "string"]}],
    }
    assert validate_record(schema, {"v": 3}) == []
    assert validate_record(schema, {"v": "3"}) == []
    assert validate_record(schema, {"v": 1.5}) == [
        FieldError("v", "expected null or int or string, got float 1.5")
    ]


def test_the_record_itself_must_be_a_mapping(validator: RecordValidator) -> None:
    (error,) = validator.validate(["not", "a", "record"])
    assert str(error).startswith("(record): expected record HouseholdSubmission")
