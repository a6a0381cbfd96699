"""Natural JSON for the gateway: plain values in, Avro-ready records out."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from schemas.catalog import load_schema
from schemas.errors import SchemaValidationError
from schemas.jsonform import JsonForm, from_json, to_json
from tests import builders


@pytest.fixture(scope="module")
def form() -> JsonForm:
    return JsonForm(load_schema("HouseholdSubmission"))


def _as_sent_by_an_app(record: dict[str, Any], form: JsonForm) -> Any:
    return json.loads(json.dumps(form.to_json(record)))


def test_to_json_uses_natural_values(form: JsonForm) -> None:
    obj = _as_sent_by_an_app(builders.household_submission(), form)
    assert obj["enumeration"]["started_at"] == "2022-10-20T02:05:00.000+00:00"
    assert obj["members"][1]["birth_date"] == "1984-08-23"
    assert obj["members"][1]["sex"] == "FEMALE"
    assert obj["enumeration"]["notes"] is None  # not {"null": null} or {"string": ...}
    assert obj["location"]["gps_accuracy_m"] == 4.5


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("HouseholdSubmission", builders.household_submission),
        ("EnumeratorEvent", builders.enumerator_event),
        ("ValidatedSubmission", builders.validated_submission),
        ("Rejection", builders.rejection),
    ],
)
def test_json_round_trip(name: str, build: Any) -> None:
    schema, record = load_schema(name), build()
    assert from_json(schema, json.loads(json.dumps(to_json(schema, record)))) == record


def test_timestamps_with_offset_or_epoch_millis(form: JsonForm) -> None:
    obj = _as_sent_by_an_app(builders.household_submission(), form)
    obj["enumeration"]["started_at"] = "2022-10-20T09:05:00+07:00"
    obj["enumeration"]["finished_at"] = 1666233600000
    record = form.from_json(obj)
    assert record["enumeration"]["started_at"] == dt.datetime(2022, 10, 20, 2, 5, tzinfo=dt.UTC)
    assert record["enumeration"]["finished_at"] == dt.datetime(2022, 10, 20, 2, 40, tzinfo=dt.UTC)


def test_omitted_fields_get_their_defaults(form: JsonForm) -> None:
    obj = _as_sent_by_an_app(builders.household_submission(), form)
    del obj["location"]["gps_accuracy_m"]
    del obj["location"]["sub_sls_code"]
    del obj["housing"]["installed_power"]
    del obj["assets"]
    record = form.from_json(obj)
    assert record["location"]["gps_accuracy_m"] is None
    assert record["location"]["sub_sls_code"] == "00"
    assert record["housing"]["installed_power"] == []
    assert record["assets"] is None


def test_every_problem_is_reported_with_its_path(form: JsonForm) -> None:
    obj = _as_sent_by_an_app(builders.household_submission(), form)
    obj["revision"] = "1"
    obj["enumeration"]["started_at"] = "2022-10-20T09:05:00"  # no offset
    obj["members"][0]["birth_date"] = "12/05/1980"
    obj["members"][1]["sex"] = "P"
    obj["members"][2]["nik"] = {"string": "3509021501100003"}  # Avro-JSON wrapping
    del obj["household_id"]
    with pytest.raises(SchemaValidationError) as caught:
        form.from_json(obj)
    found = {error.path: error.problem for error in caught.value.errors}
    assert found == {
        "household_id": "missing required field",
        "revision": "expected int, got str '1'",
        "enumeration.started_at": (
            "timestamp '2022-10-20T09:05:00' has no UTC offset; add Z or e.g. +07:00"
        ),
        "members[0].birth_date": "expected date 'YYYY-MM-DD', got string '12/05/1980'",
        "members[1].sex": "unknown enum symbol 'P'; allowed: MALE, FEMALE",
        "members[2].nik": "expected string, got dict {'string': '3509021501100003'}",
    }


def test_impossible_date_and_unknown_field(form: JsonForm) -> None:
    obj = _as_sent_by_an_app(builders.household_submission(), form)
    obj["members"][0]["birth_date"] = "1980-02-30"
    obj["kk_number"] = "3509021234567890"
    with pytest.raises(SchemaValidationError) as caught:
        form.from_json(obj)
    found = {error.path: error.problem for error in caught.value.errors}
    assert found.keys() == {"kk_number", "members[0].birth_date"}
    assert found["kk_number"] == "unknown field"
    assert found["members[0].birth_date"].startswith("not a calendar date: '1980-02-30'")


def test_bytes_travel_as_base64() -> None:
    schema = load_schema("Rejection")
    obj = to_json(schema, builders.rejection(original=b"\x00\xff raw"))
    assert obj["original"] == "AP8gcmF3"
    assert from_json(schema, obj)["original"] == b"\x00\xff raw"
    obj["original"] = "not base64!"
    with pytest.raises(SchemaValidationError, match="original: expected base64 text"):
        from_json(schema, obj)


def test_not_an_object(form: JsonForm) -> None:
    with pytest.raises(SchemaValidationError) as caught:
        form.from_json([1, 2])
    assert [e.path for e in caught.value.errors] == [""]


def test_integral_floats_are_integers_as_json_schema_says(form: JsonForm) -> None:
    """``12.0`` is an integer to JSON Schema (and so to the OpenAPI document); 12.5 is not."""
    obj = form.to_json(builders.household_submission())
    obj["revision"] = 3.0
    obj["enumeration"]["started_at"] = 1666231500000.0
    record = form.from_json(obj)
    assert record["revision"] == 3
    assert type(record["revision"]) is int
    assert record["enumeration"]["started_at"] == dt.datetime(2022, 10, 20, 2, 5, tzinfo=dt.UTC)
    obj["revision"] = 3.5
    with pytest.raises(SchemaValidationError, match="revision: expected int"):
        form.from_json(obj)
