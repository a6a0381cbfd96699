"""Micro-benchmarks of the worker's hot path, one household or one batch at a time.

Skipped in the normal run (``--benchmark-skip`` in pytest's addopts); run them
with ``make bench-micro``. They time the pieces the end-to-end benchmark
(``make bench``, benchmarks/README.md) found the worker's time in: Avro
decode, the rules, enrichment, the whole pipeline on a batch, the
ValidatedSubmission re-encode and decode (the hop through the valid topic), and
row building. The assertions only check
that the timed call did the real work; no timing is asserted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from benchmarks.workload import Jember, household
from processors.enrich import enrich
from processors.location import resolve_location
from processors.pipeline import Pipeline, RawSubmission
from processors.rules import InMemoryNikIndex, RuleContext, Severity, validate
from schemas.catalog import subject_for
from schemas.frame import Frame
from schemas.regions import RegionMaster, load_regions
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from sinks.rows import household_blocks

NOW = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)
STARTED = NOW - dt.timedelta(hours=1)
FINISHED = NOW - dt.timedelta(minutes=20)
BATCH = 1_000


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


@pytest.fixture(scope="module")
def context(regions: RegionMaster) -> RuleContext:
    """The worker's rule context (empty frame, as the benchmark runs it)."""
    return RuleContext(
        regions=regions,
        frame=Frame.build([], [], []),
        fieldwork_start=NOW - dt.timedelta(days=1),
        fieldwork_end=NOW + dt.timedelta(days=1),
        now=NOW,
        seen_niks=InMemoryNikIndex(),
    )


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    """A batch of distinct benchmark households (four members each)."""
    jember = Jember.load()
    out = []
    for n in range(BATCH):
        record = household(n, STARTED, jember)
        record["enumeration"]["finished_at"] = FINISHED
        out.append(record)
    return out


@pytest.fixture(scope="module")
def encoded(records: list[dict[str, Any]]) -> list[bytes]:
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    return [serializer.encode(record) for record in records]


@pytest.fixture(scope="module")
def validated(records: list[dict[str, Any]], context: RuleContext) -> list[dict[str, Any]]:
    """ValidatedSubmission records as the sink decodes them."""
    out = []
    for record in records:
        resolved = resolve_location(record["location"], context.regions)
        out.append(
            {
                "submission": record,
                "enrichment": enrich(record, resolved, context, NOW),
                "warnings": [],
            }
        )
    return out


def test_decode_one_household(benchmark: Any, encoded: list[bytes]) -> None:
    decoder = AvroDeserializer(LocalRegistry(), "HouseholdSubmission")
    record = benchmark(decoder.decode, encoded[0])
    assert len(record["members"]) == 4


def test_validate_one_household(
    benchmark: Any, records: list[dict[str, Any]], context: RuleContext
) -> None:
    findings = benchmark(validate, records[0], context)
    assert not [f for f in findings if f.severity is Severity.ERROR]


def test_enrich_one_household(
    benchmark: Any, records: list[dict[str, Any]], context: RuleContext
) -> None:
    record = records[0]

    def resolve_and_enrich() -> dict[str, Any]:
        return enrich(record, resolve_location(record["location"], context.regions), context, NOW)

    assert benchmark(resolve_and_enrich)["household_size"] == 4


def test_pipeline_run_on_a_batch(
    benchmark: Any, encoded: list[bytes], context: RuleContext
) -> None:
    decoder = AvroDeserializer(LocalRegistry(), "HouseholdSubmission")
    pipeline = Pipeline(decode=decoder.decode_with_id, context=context)
    messages = [
        RawSubmission("regsosek.submissions", 0, offset, None, value, NOW)
        for offset, value in enumerate(encoded)
    ]
    result = benchmark.pedantic(
        pipeline.run, args=(messages, lambda _: None, NOW), rounds=5, iterations=1
    )
    assert len(result.valid) == BATCH


def test_encode_one_validated_submission(benchmark: Any, validated: list[dict[str, Any]]) -> None:
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("ValidatedSubmission"), "ValidatedSubmission"
    )
    assert benchmark(serializer.encode, validated[0], validate=False)[:1] == b"\x00"


def test_decode_one_validated_submission(benchmark: Any, validated: list[dict[str, Any]]) -> None:
    registry = LocalRegistry()
    data = AvroSerializer(registry, subject_for("ValidatedSubmission"), "ValidatedSubmission")
    decoder = AvroDeserializer(registry, "ValidatedSubmission")
    record = benchmark(decoder.decode, data.encode(validated[0], validate=False))
    assert len(record["submission"]["members"]) == 4


def test_household_blocks_on_a_batch(
    benchmark: Any, validated: list[dict[str, Any]], regions: RegionMaster
) -> None:
    def build() -> Any:
        return household_blocks(validated, nik_key=b"key", written_at=NOW, regions=regions)

    blocks = benchmark.pedantic(build, rounds=5, iterations=1)
    assert [len(block) for block in blocks] == [BATCH, 4 * BATCH]
