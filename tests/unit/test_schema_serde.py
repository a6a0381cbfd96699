"""Serializer/deserializer: round trips, old app versions, and hostile bytes."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from schemas.errors import (
    AvroBodyInvalidError,
    DecodeError,
    SchemaMismatchError,
    SchemaRegistryError,
    SchemaValidationError,
    UnknownSchemaIdError,
)
from schemas.registry import LocalRegistry, RegisteredSchema
from schemas.serde import AvroDeserializer, AvroSerializer
from schemas.wire import frame
from tests import builders

SUBMISSIONS = "regsosek.submissions-value"

CASES: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
    (SUBMISSIONS, "HouseholdSubmission", builders.household_submission),
    ("regsosek.enumerator-events-value", "EnumeratorEvent", builders.enumerator_event),
    ("regsosek.submissions.valid-value", "ValidatedSubmission", builders.validated_submission),
    ("regsosek.submissions.rejected-value", "Rejection", builders.rejection),
]


@pytest.fixture(scope="module")
def registry() -> LocalRegistry:
    return LocalRegistry()


@pytest.mark.parametrize(("subject", "name", "build"), CASES)
def test_round_trip(
    registry: LocalRegistry, subject: str, name: str, build: Callable[..., dict[str, Any]]
) -> None:
    record = build()
    data = AvroSerializer(registry, subject, name).encode(record)
    schema_id, decoded = AvroDeserializer(registry, name).decode_with_id(data)
    assert decoded == record
    assert schema_id == registry.latest(subject)[1]


def test_event_from_a_v1_app_decodes_with_the_current_schema(registry: LocalRegistry) -> None:
    old_app = AvroSerializer(registry, SUBMISSIONS, "HouseholdSubmission", version=1)
    record = builders.household_submission_v1()
    schema_id, decoded = AvroDeserializer(registry, "HouseholdSubmission").decode_with_id(
        old_app.encode(record)
    )
    assert schema_id == 1
    assert decoded["location"]["gps_accuracy_m"] is None
    assert decoded["enumeration"]["device_id"] is None
    assert decoded["assets"]["smartphone"] is None
    assert decoded["assets"]["motor_boat"] is None
    assert decoded["members"] == record["members"]
    assert decoded["household_id"] == record["household_id"]


def test_v1_serializer_refuses_fields_only_v2_has(registry: LocalRegistry) -> None:
    old_app = AvroSerializer(registry, SUBMISSIONS, "HouseholdSubmission", version=1)
    with pytest.raises(SchemaValidationError) as caught:
        old_app.encode(builders.household_submission())
    paths = {error.path for error in caught.value.errors}
    assert paths == {
        "member_count",
        "location.code_system",
        "location.gps_accuracy_m",
        "enumeration.device_id",
        "assets.motor_boat",
        "assets.smartphone",
    }


def test_encode_lists_every_bad_field(registry: LocalRegistry) -> None:
    record = builders.household_submission(revision="2")
    record["members"][2]["sex"] = "LAKI"
    del record["enumeration"]["result"]
    with pytest.raises(SchemaValidationError) as caught:
        AvroSerializer(registry, SUBMISSIONS, "HouseholdSubmission").encode(record)
    assert [str(e) for e in caught.value.errors] == [
        "revision: expected int, got str '2'",
        "enumeration.result: missing required field",
        "members[2].sex: unknown enum symbol 'LAKI'; allowed: MALE, FEMALE",
    ]
    assert "3 invalid field(s) for HouseholdSubmission" in str(caught.value)


def test_encode_without_validation_still_raises_a_typed_error(registry: LocalRegistry) -> None:
    serializer = AvroSerializer(registry, SUBMISSIONS, "HouseholdSubmission")
    with pytest.raises(SchemaValidationError):
        serializer.encode(builders.household_submission(revision="x"), validate=False)


def test_unknown_schema_id(registry: LocalRegistry) -> None:
    good = AvroSerializer(registry, SUBMISSIONS, "HouseholdSubmission").encode(
        builders.household_submission()
    )
    with pytest.raises(UnknownSchemaIdError) as caught:
        AvroDeserializer(registry, "HouseholdSubmission").decode(frame(999, good[5:]))
    assert caught.value.reason_code == "unknown_schema_id"
    assert caught.value.schema_id == 999


def test_another_schemas_event_is_a_schema_mismatch(registry: LocalRegistry) -> None:
    event = AvroSerializer(registry, "regsosek.enumerator-events-value", "EnumeratorEvent")
    deserializer = AvroDeserializer(registry, "HouseholdSubmission")
    for _ in range(2):  # the verdict is cached per id and stays the same
        with pytest.raises(SchemaMismatchError) as caught:
            deserializer.decode(event.encode(builders.enumerator_event()))
        assert caught.value.reason_code == "schema_mismatch"
        assert "record name changed from EnumeratorEvent" in str(caught.value)


def test_trailing_bytes_are_not_silently_ignored(registry: LocalRegistry) -> None:
    data = AvroSerializer(registry, "regsosek.enumerator-events-value", "EnumeratorEvent").encode(
        builders.enumerator_event()
    )
    with pytest.raises(AvroBodyInvalidError, match="trailing"):
        AvroDeserializer(registry, "EnumeratorEvent").decode(data + b"\x00")


def test_random_bytes_and_truncations_only_ever_raise_decode_errors(
    registry: LocalRegistry,
) -> None:
    """A hostile or corrupt message must become a rejection, never crash a worker."""
    good = AvroSerializer(registry, SUBMISSIONS, "HouseholdSubmission").encode(
        builders.household_submission()
    )
    deserializer = AvroDeserializer(registry, "HouseholdSubmission")
    rng = random.Random(20221015)
    samples = [good[:cut] for cut in range(len(good))]
    samples += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(64))) for _ in range(2000)]
    samples += [b"\x00\x00\x00\x00\x02" + bytes(rng.getrandbits(8) for _ in range(80))] * 5
    for _ in range(2000):
        corrupt = bytearray(good)
        corrupt[rng.randrange(5, len(good))] = rng.getrandbits(8)
        samples.append(bytes(corrupt))
    reasons: dict[str, int] = {}
    for data in samples:
        try:
            deserializer.decode(data)
        except DecodeError as exc:
            reasons[exc.reason_code] = reasons.get(exc.reason_code, 0) + 1
    assert {"truncated", "bad_magic_byte", "avro_body_invalid"} <= set(reasons)
    assert set(reasons) <= {
        "truncated",
        "bad_magic_byte",
        "avro_body_invalid",
        "unknown_schema_id",
        "schema_mismatch",
    }


class _DownRegistry(LocalRegistry):
    """A registry that answers registration but is unreachable for lookups."""

    def get_by_id(self, schema_id: int) -> dict[str, Any]:
        raise SchemaRegistryError("connection refused")


def test_unreachable_registry_is_not_a_decode_error() -> None:
    """The processor must retry such a message, not reject it."""
    registry = _DownRegistry()
    data = AvroSerializer(registry, SUBMISSIONS, "HouseholdSubmission").encode(
        builders.household_submission()
    )
    with pytest.raises(SchemaRegistryError) as caught:
        AvroDeserializer(registry, "HouseholdSubmission").decode(data)
    assert not isinstance(caught.value, DecodeError)
    assert caught.value.http_status is None


class _CountingRegistry(LocalRegistry):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def get_by_id(self, schema_id: int) -> dict[str, Any]:
        self.lookups += 1
        return super().get_by_id(schema_id)


def test_writer_schemas_are_fetched_once_per_id() -> None:
    registry = _CountingRegistry()
    serializer = AvroSerializer(registry, SUBMISSIONS, "HouseholdSubmission")
    deserializer = AvroDeserializer(registry, "HouseholdSubmission")
    for _ in range(5):
        deserializer.decode(serializer.encode(builders.household_submission()))
    for _ in range(5):
        with pytest.raises(UnknownSchemaIdError):
            deserializer.decode(frame(4242, b"\x02"))
    assert registry.lookups == 2  # one for id 2, one (remembered) for the unknown id


def test_registered_schema_is_a_plain_record() -> None:
    entry = RegisteredSchema("s", 1, 7, {"type": "string"})
    assert isinstance(entry.schema, Mapping)
