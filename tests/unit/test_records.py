"""Output records: ValidatedSubmission and Rejection dicts that encode with their schemas."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from processors.enrich import enrich
from processors.location import resolve_location
from processors.records import (
    decode_finding,
    district_code,
    rejection,
    rejection_for_decode_error,
    validated_submission,
)
from processors.rules import RULES_BY_CODE, RuleContext, validate
from schemas.errors import (
    AvroBodyInvalidError,
    BadMagicByteError,
    DecodeError,
    SchemaMismatchError,
    TruncatedMessageError,
    UnknownSchemaIdError,
)
from schemas.regions import RegionMaster, load_regions
from schemas.registry import registry_from_url
from schemas.serde import AvroDeserializer, AvroSerializer
from tests import builders as b

RECEIVED = dt.datetime(2022, 10, 20, 2, 48, tzinfo=dt.UTC)
TOPIC = "regsosek.submissions"


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


@pytest.fixture
def ctx(regions: RegionMaster) -> RuleContext:
    return b.rule_context(regions)


def round_trip(subject: str, name: str, record: dict[str, Any]) -> dict[str, Any]:
    registry = registry_from_url(None)
    data = AvroSerializer(registry, subject, name).encode(record)
    decoded: dict[str, Any] = AvroDeserializer(registry, name).decode(data)
    return decoded


def test_validated_submission_encodes(ctx: RuleContext) -> None:
    record = b.household_submission()
    findings = validate(record, ctx)
    enrichment = enrich(record, resolve_location(record["location"], ctx.regions), ctx, RECEIVED)
    out = validated_submission(record, enrichment, findings)
    assert out["warnings"] == [
        {
            "code": "REGION_VILLAGE_UNVERIFIED",
            "severity": "WARNING",
            "message_id": findings[0].message_id,
            "message_en": findings[0].message_en,
            "field_path": "location.village_code",
        }
    ]
    decoded = round_trip("regsosek.submissions.valid-value", "ValidatedSubmission", out)
    assert decoded["warnings"][0]["code"] == "REGION_VILLAGE_UNVERIFIED"
    assert decoded["enrichment"]["district_name"] == "Kencong"
    assert decoded["submission"]["household_id"] == record["household_id"]


def test_rejection_of_a_decoded_record(ctx: RuleContext) -> None:
    record = b.household_submission(member_count=7)
    errors = [f for f in validate(record, ctx) if f.severity == "error"]
    out = rejection(b"\x00\x00\x00\x00\x02body", TOPIC, 3, 1234, RECEIVED, errors, record, 2)
    assert out["submission_id"] == record["submission_id"]
    assert out["household_id"] == "3509010001-0003-012-01"
    assert out["enumerator_id"] == "0412"
    assert out["district_code"] == "3509010"
    assert out["schema_id"] == 2
    (reason,) = out["reasons"]
    assert reason["code"] == "MEMBER_COUNT_MISMATCH"
    assert reason["field_path"] == "member_count"
    assert reason["message"] == errors[0].message_en
    assert reason["message_id"] == errors[0].message_id
    decoded = round_trip("regsosek.submissions.rejected-value", "Rejection", out)
    assert decoded["original"] == b"\x00\x00\x00\x00\x02body"
    assert decoded["source_offset"] == 1234


def test_rejection_with_plain_reasons() -> None:
    out = rejection(b"x", TOPIC, 0, 1, RECEIVED, [("GATEWAY_QUOTA", "too many")], None, None)
    assert out["reasons"] == [
        {"code": "GATEWAY_QUOTA", "message": "too many", "message_id": None, "field_path": None}
    ]
    assert out["submission_id"] is None and out["district_code"] is None


def test_rejection_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="at least one reason"):
        rejection(b"x", TOPIC, 0, 1, RECEIVED, [], None, None)


def test_district_code_in_either_code_system() -> None:
    assert district_code(b.household_submission()) == "3509010"
    assert district_code(b.kemendagri_submission()) == "35.09.02"
    assert district_code({"location": {"province_code": "35"}}) is None


def test_the_worker_may_pass_the_bps_district(ctx: RuleContext) -> None:
    record = b.kemendagri_submission(member_count=9)
    resolved = resolve_location(record["location"], ctx.regions)
    reasons = [("MEMBER_COUNT_MISMATCH", "112")]
    out = rejection(
        b"x", TOPIC, 0, 1, RECEIVED, reasons, record, 2, district=resolved.district_bps_code
    )
    assert out["district_code"] == "3509010"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (TruncatedMessageError("3 bytes"), "DECODE_TRUNCATED"),
        (BadMagicByteError("first byte is 7"), "DECODE_BAD_MAGIC_BYTE"),
        (UnknownSchemaIdError("no schema 99", schema_id=99), "DECODE_UNKNOWN_SCHEMA_ID"),
        (SchemaMismatchError("EnumeratorEvent", schema_id=3), "DECODE_SCHEMA_MISMATCH"),
        (AvroBodyInvalidError("bad varint", schema_id=2), "DECODE_AVRO_BODY_INVALID"),
        (DecodeError("something else"), "DECODE_UNDECODABLE"),
    ],
)
def test_decode_errors_map_to_catalogue_codes(error: DecodeError, code: str) -> None:
    finding = decode_finding(error)
    assert finding.code == code and code in RULES_BY_CODE
    assert str(error) in finding.message_en
    out = rejection_for_decode_error(b"\x07", TOPIC, 1, 2, RECEIVED, error, key="hh-1")
    assert out["reasons"][0]["code"] == code
    assert out["schema_id"] == error.schema_id
    assert out["household_id"] == "hh-1"
    assert out["enumerator_id"] is None
    round_trip("regsosek.submissions.rejected-value", "Rejection", out)


def test_a_real_bad_magic_byte() -> None:
    registry = registry_from_url(None)
    with pytest.raises(DecodeError) as raised:
        AvroDeserializer(registry, "HouseholdSubmission").decode(b"\x07not avro")
    out = rejection_for_decode_error(b"\x07not avro", TOPIC, 0, 9, RECEIVED, raised.value)
    assert out["reasons"][0]["code"] == "DECODE_BAD_MAGIC_BYTE"
    assert out["household_id"] is None
