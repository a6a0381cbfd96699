"""The processing stage's CPU half, without a broker: a record that will not encode is rejected.

A bug that produces an unencodable ValidatedSubmission must not crash the agent
(Faust would replay the same batch forever); the submission becomes a rejection
with its original bytes and the ENRICHED_RECORD_INVALID code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from processors.pipeline import Pipeline, RawSubmission
from processors.regions import load_regions
from schemas.catalog import subject_for
from schemas.errors import SchemaValidationError
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from schemas.validate import FieldError
from streams.worker.observer import WorkerStats
from streams.worker.processing import ProcessingStage
from tests import builders as b


def _stage(encode_valid: Any) -> ProcessingStage:
    registry = LocalRegistry()
    return ProcessingStage(
        pipeline=Pipeline(
            decode=AvroDeserializer(registry, "HouseholdSubmission").decode_with_id,
            context=b.rule_context(load_regions()),
        ),
        table={},
        valid_topic=None,
        rejected_topic=None,
        encode_valid=encode_valid,
        encode_rejected=AvroSerializer(registry, subject_for("Rejection"), "Rejection").encode,
        observer=WorkerStats(),
        clock=lambda: b.RULES_NOW,
    )


def _messages() -> list[RawSubmission]:
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    records = [
        b.kemendagri_submission(household_id=f"35.09.02.2001-0003-{n:04d}-01") for n in range(3)
    ]
    return [
        RawSubmission("regsosek.submissions", 0, n, None, serializer.encode(r), datetime.now(UTC))
        for n, r in enumerate(records)
    ]


def test_all_valid_records_are_encoded() -> None:
    valid = AvroSerializer(
        LocalRegistry(), subject_for("ValidatedSubmission"), "ValidatedSubmission"
    )
    encoded = _stage(valid.encode).process(_messages())
    assert len(encoded.valid) == 3 and encoded.rejected == []


def test_an_unencodable_record_becomes_a_rejection_not_a_crash() -> None:
    valid = AvroSerializer(
        LocalRegistry(), subject_for("ValidatedSubmission"), "ValidatedSubmission"
    )

    def encode(record: dict[str, Any]) -> bytes:
        if record["submission"]["household_id"].endswith("0001-01"):
            raise SchemaValidationError([FieldError("enrichment.housing_score", "bad")], "X")
        return valid.encode(record)

    messages = _messages()
    encoded = _stage(encode).process(messages)
    assert len(encoded.valid) == 2
    ((key, value),) = encoded.rejected
    assert key == b"35.09.02.2001-0003-0001-01"
    rejection = AvroDeserializer(LocalRegistry(), "Rejection").decode(value)
    assert [r["code"] for r in rejection["reasons"]] == ["ENRICHED_RECORD_INVALID"]
    assert rejection["original"] == messages[1].value
    assert rejection["source_offset"] == 1
