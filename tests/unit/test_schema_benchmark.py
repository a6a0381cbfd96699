"""Micro-benchmarks of the serde hot path (skipped unless run with --benchmark-only).

Run: ``.venv/bin/pytest tests/unit/test_schema_benchmark.py --benchmark-only``.
DESIGN.md measured fastavro at ~32,000 four-member households per second on
one core; these show what validation and framing add on top.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from tests import builders

SUBJECT = "regsosek.submissions-value"


@pytest.fixture(scope="module")
def serializer() -> AvroSerializer:
    return AvroSerializer(LocalRegistry(), SUBJECT, "HouseholdSubmission")


def test_encode_with_validation(benchmark: Any, serializer: AvroSerializer) -> None:
    record = builders.household_submission()
    assert benchmark(serializer.encode, record)[:1] == b"\x00"


def test_encode_without_validation(benchmark: Any, serializer: AvroSerializer) -> None:
    record = builders.household_submission()
    assert benchmark(serializer.encode, record, validate=False)[:1] == b"\x00"


def test_decode_current(benchmark: Any, serializer: AvroSerializer) -> None:
    data = serializer.encode(builders.household_submission())
    deserializer = AvroDeserializer(LocalRegistry(), "HouseholdSubmission")
    assert benchmark(deserializer.decode, data)["revision"] == 1


def test_decode_v1_resolved_into_current(benchmark: Any) -> None:
    registry = LocalRegistry()
    old_app = AvroSerializer(registry, SUBJECT, "HouseholdSubmission", version=1)
    data = old_app.encode(builders.household_submission_v1())
    deserializer = AvroDeserializer(registry, "HouseholdSubmission")
    assert benchmark(deserializer.decode, data)["assets"]["smartphone"] is None
