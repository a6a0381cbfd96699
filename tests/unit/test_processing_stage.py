"""The batch computer, without a broker or an engine: each record's failure is its own.

A failure that would happen again on the same record (too large, unencodable,
a crash in the rules, rows that cannot be built) must become that record's
rejection with its own reason code; the rest of the batch goes on. Faust would
otherwise replay the same batch forever.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from processors import pipeline
from processors.pipeline import Pipeline, RawSubmission
from processors.rules.region import resolved_location
from schemas.catalog import subject_for
from schemas.errors import SchemaValidationError
from schemas.limits import MAX_RECORD_BYTES, MAX_SUBMISSION_BYTES, QUARANTINE_ORIGINAL_BYTES
from schemas.regions import RegionMaster, load_regions
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer, EnvelopeSerializer
from schemas.validate import FieldError
from streams.worker.compute import BatchComputer, Computed
from streams.worker.pool import encoder
from tests import builders as b

TOPIC = "regsosek.submissions"


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


def _computer(
    regions: RegionMaster, encode_valid: Any = None, encode_rejected: Any = None
) -> BatchComputer:
    registry = LocalRegistry()
    return BatchComputer(
        pipeline=Pipeline(
            decode=AvroDeserializer(registry, "HouseholdSubmission").decode_with_id,
            context=b.rule_context(regions),
        ),
        encode_valid=encode_valid
        or EnvelopeSerializer(
            registry, subject_for("ValidatedSubmission"), "ValidatedSubmission"
        ).encode,
        encode_rejected=encode_rejected or encoder(registry, "Rejection"),
        nik_key=b"test-key",
        regions=regions,
    )


def _household(n: int) -> str:
    return f"35.09.02.2001-0003-{n:04d}-01"


def _messages(count: int = 3) -> list[RawSubmission]:
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    return [
        RawSubmission(
            TOPIC,
            0,
            n,
            _household(n).encode(),
            serializer.encode(b.kemendagri_submission(household_id=_household(n))),
            datetime.now(UTC),
        )
        for n in range(count)
    ]


def _run(computer: BatchComputer, messages: list[RawSubmission]) -> Computed:
    states: dict[str, list[Any] | None] = {m.key.decode(): None for m in messages if m.key}
    return computer.compute(messages, states, b.RULES_NOW)


def _rejection(value: bytes) -> dict[str, Any]:
    return AvroDeserializer(LocalRegistry(), "Rejection").decode(value)


def test_one_pass_gives_rows_records_and_states_for_every_household(
    regions: RegionMaster,
) -> None:
    computed = _run(_computer(regions), _messages())
    assert [h.household_id for h in computed.households] == [_household(n) for n in range(3)]
    assert computed.rejected == [] and computed.missing == set()
    assert sum(len(h.members) for h in computed.households) == sum(
        len(b.kemendagri_submission()["members"]) for _ in range(3)
    )
    row = dict(zip(computed.household_columns, computed.households[0].household, strict=True))
    assert row["district_code"] == "35.09.02" and row["household_id"] == _household(0)
    decoded = AvroDeserializer(LocalRegistry(), "ValidatedSubmission").decode(
        computed.households[0].valid_value
    )
    assert decoded["enrichment"]["district_name"] == row["district_name"]
    assert set(computed.states) == {_household(n) for n in range(3)}
    outcome = computed.outcome(set())
    assert (outcome.valid, outcome.rejected) == (3, 0)
    assert outcome.districts == {("35.09.02", "valid"): 3}
    refused = computed.outcome({_household(1)})
    assert (refused.valid, refused.rejected, refused.reasons) == (2, 1, {"INSERT_REFUSED": 1})


def test_a_household_whose_state_was_not_handed_in_is_asked_for(regions: RegionMaster) -> None:
    messages = _messages(2)
    computed = _computer(regions).compute(messages, {_household(0): None}, b.RULES_NOW)
    assert computed.missing == {_household(1)} and computed.households == []


def test_an_unencodable_record_becomes_a_rejection_not_a_crash(regions: RegionMaster) -> None:
    valid = encoder(LocalRegistry(), "ValidatedSubmission")

    def encode(record: dict[str, Any], original: bytes) -> bytes:
        del original
        if record["submission"]["household_id"] == _household(1):
            raise SchemaValidationError([FieldError("enrichment.housing_score", "bad")], "X")
        return valid(record)

    messages = _messages()
    computed = _run(_computer(regions, encode), messages)
    assert len(computed.households) == 2
    ((key, value),) = computed.rejected
    assert key == _household(1).encode()
    rejection = _rejection(value)
    assert [r["code"] for r in rejection["reasons"]] == ["ENRICHED_RECORD_INVALID"]
    assert rejection["original"] == messages[1].value and rejection["source_offset"] == 1
    assert len(computed.rejection_rows) == 1


def test_an_output_over_the_producers_limit_is_quarantined(regions: RegionMaster) -> None:
    computed = _run(
        _computer(regions, lambda _record, _original: b"x" * MAX_RECORD_BYTES), _messages(1)
    )
    assert computed.households == []
    assert [r["code"] for r in _rejection(computed.rejected[0][1])["reasons"]] == [
        "OUTPUT_TOO_LARGE"
    ]


def test_a_submission_over_the_contract_keeps_its_head_size_and_digest(
    regions: RegionMaster,
) -> None:
    messages = _messages(3)
    huge = b"\x00" + bytes(MAX_SUBMISSION_BYTES + 10)
    messages[1] = RawSubmission(TOPIC, 0, 1, _household(1).encode(), huge, datetime.now(UTC))
    computed = _run(_computer(regions), messages)
    assert [h.household_id for h in computed.households] == [_household(0), _household(2)]
    ((key, value),) = computed.rejected
    rejection = _rejection(value)
    assert key == _household(1).encode() and len(value) < MAX_RECORD_BYTES
    assert [r["code"] for r in rejection["reasons"]] == ["SUBMISSION_TOO_LARGE"]
    assert rejection["original"] == huge[:QUARANTINE_ORIGINAL_BYTES]
    assert rejection["original_size"] == len(huge)
    assert rejection["original_sha256"] == hashlib.sha256(huge).hexdigest()
    row = dict(zip(computed.rejection_columns, computed.rejection_rows[0], strict=True))
    assert row["original_size"] == len(huge)
    assert row["original_sha256"] == hashlib.sha256(huge).hexdigest()


def test_a_record_that_crashes_the_pipeline_is_quarantined_alone(
    regions: RegionMaster, monkeypatch: pytest.MonkeyPatch
) -> None:

    def explode(record: Any, ctx: Any) -> Any:
        if record["location"].get("sls_name") == "boom":
            raise ZeroDivisionError("a bug met by unusual data")
        return resolved_location(record, ctx)

    monkeypatch.setattr(pipeline, "resolved_location", explode)
    messages = _messages(3)
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    record = b.kemendagri_submission(household_id=_household(1))
    record["location"]["sls_name"] = "boom"
    messages[1] = RawSubmission(
        TOPIC, 0, 1, _household(1).encode(), serializer.encode(record), datetime.now(UTC)
    )
    computed = _run(_computer(regions), messages)
    assert len(computed.households) == 2
    rejection = _rejection(computed.rejected[0][1])
    assert [r["code"] for r in rejection["reasons"]] == ["RECORD_PROCESSING_FAILED"]
    assert "ZeroDivisionError" in rejection["reasons"][0]["message"]


def test_the_envelope_reuses_the_submission_bytes_and_equals_a_full_encode(
    regions: RegionMaster,
) -> None:
    """Splicing the received body into the ValidatedSubmission gives the very same bytes."""
    registry = LocalRegistry()
    full = encoder(registry, "ValidatedSubmission")
    envelope = EnvelopeSerializer(
        registry, subject_for("ValidatedSubmission"), "ValidatedSubmission"
    )
    messages = _messages(3)
    computed = _run(_computer(regions), messages)
    decoder = AvroDeserializer(registry, "ValidatedSubmission")
    for household, message in zip(computed.households, messages, strict=True):
        record = decoder.decode(household.valid_value)
        assert household.valid_value == full(record)
        assert envelope.encode(record, message.value) == household.valid_value
        assert envelope.encode(record, None) == household.valid_value  # no original: encoded whole


def test_an_older_apps_submission_is_encoded_whole(regions: RegionMaster) -> None:
    registry = LocalRegistry()
    v1 = AvroSerializer(
        registry, subject_for("HouseholdSubmission"), "HouseholdSubmission", version=1
    )
    old = v1.encode(b.household_submission_v1(household_id="3509010001-0003-0006-01"))
    message = RawSubmission(TOPIC, 0, 0, b"3509010001-0003-0006-01", old, datetime.now(UTC))
    computed = _run(_computer(regions), [message])
    (household,) = computed.households
    record = AvroDeserializer(registry, "ValidatedSubmission").decode(household.valid_value)
    assert record["submission"]["household_id"] == "3509010001-0003-0006-01"
    assert household.valid_value == encoder(registry, "ValidatedSubmission")(record)


def test_an_undecodable_message_is_counted_under_its_decode_code(regions: RegionMaster) -> None:
    """Decode rejections carry their code only in the record: the outcome must still name it."""
    messages = [*_messages(1), RawSubmission(TOPIC, 0, 1, b"k", b"\x07not avro", datetime.now(UTC))]
    outcome = _run(_computer(regions), messages).outcome(set())
    assert (outcome.valid, outcome.rejected) == (1, 1)
    assert outcome.reasons == {"DECODE_BAD_MAGIC_BYTE": 1}


def test_a_rejection_that_does_not_encode_is_replaced_by_its_plainest_form(
    regions: RegionMaster,
) -> None:
    """A bug in one rejection must not fail the batch on every read (a crash loop)."""
    registry = LocalRegistry()
    plain = encoder(registry, "Rejection")

    def encode_rejected(record: dict[str, Any]) -> bytes:
        if record["reasons"][0]["code"] == "DECODE_BAD_MAGIC_BYTE":
            raise SchemaValidationError([FieldError("reasons", "bad")], "Rejection")
        return plain(record)

    computer = _computer(regions, encode_rejected=encode_rejected)
    messages = [*_messages(2), RawSubmission(TOPIC, 0, 2, b"k", b"\x07not avro", datetime.now(UTC))]
    computed = _run(computer, messages)
    assert len(computed.households) == 2 and len(computed.rejection_rows) == 1
    ((key, value),) = computed.rejected
    rejection = _rejection(value)
    assert key == b"k" and rejection["original"] == b"\x07not avro"
    assert [r["code"] for r in rejection["reasons"]] == ["RECORD_PROCESSING_FAILED"]
    assert computed.outcome(set()).reasons == {"RECORD_PROCESSING_FAILED": 1}
