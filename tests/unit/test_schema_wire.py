"""Confluent framing, checked against an independent reading of the bytes."""

from __future__ import annotations

import io
import struct

import fastavro
import pytest

from schemas import catalog, wire
from schemas.errors import BadMagicByteError, DecodeError, TruncatedMessageError
from schemas.registry import LocalRegistry
from schemas.serde import AvroSerializer
from tests import builders


def test_frame_then_unframe() -> None:
    data = wire.frame(258, b"\x02body")
    assert data[:5] == b"\x00\x00\x00\x01\x02"
    schema_id, body = wire.unframe(data)
    assert schema_id == 258
    assert bytes(body) == b"\x02body"


def test_frame_rejects_ids_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="4 unsigned bytes"):
        wire.frame(2**32, b"x")


def test_serializer_output_reads_with_a_hand_written_decoder() -> None:
    """Any Confluent client could read it: magic 0, big-endian id, plain Avro body."""
    registry = LocalRegistry()
    serializer = AvroSerializer(registry, "regsosek.submissions-value", "HouseholdSubmission")
    record = builders.household_submission()
    data = serializer.encode(record)

    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    assert schema_id == serializer.schema_id == 2
    writer = fastavro.parse_schema(registry.get_by_id(schema_id))
    body = io.BytesIO(data[5:])
    assert fastavro.schemaless_reader(body, writer) == record
    assert body.tell() == len(data) - 5


@pytest.mark.parametrize(
    ("data", "error", "reason"),
    [
        (b"", TruncatedMessageError, "truncated"),
        (b"\x00\x00\x00", TruncatedMessageError, "truncated"),
        (b"\x00\x00\x00\x00\x02", TruncatedMessageError, "truncated"),  # header, no body
        (b"\x01\x00\x00\x00\x02\x02", BadMagicByteError, "bad_magic_byte"),
        (b"{", BadMagicByteError, "bad_magic_byte"),  # JSON sent to the Avro topic
    ],
)
def test_unframe_errors_are_typed_with_reason_codes(
    data: bytes, error: type[DecodeError], reason: str
) -> None:
    with pytest.raises(error) as caught:
        wire.unframe(data)
    assert caught.value.reason_code == reason


def test_peek_schema_id_never_raises() -> None:
    assert wire.peek_schema_id(wire.frame(7, b"\x02")) == 7
    assert wire.peek_schema_id(b"\x00\x00") is None
    assert wire.peek_schema_id(b"\x05\x00\x00\x00\x07") is None


def test_header_is_the_same_for_every_record_of_a_serializer() -> None:
    serializer = AvroSerializer(
        LocalRegistry(), "regsosek.enumerator-events-value", "EnumeratorEvent"
    )
    first = serializer.encode(builders.enumerator_event())
    second = serializer.encode(builders.enumerator_event(event_type="LOGIN"))
    assert first[:5] == second[:5] == wire.frame(7, b"")  # EnumeratorEvent v2
    assert catalog.SUBJECTS["regsosek.enumerator-events-value"] == "EnumeratorEvent"
