"""The worker against the real broker and the real ClickHouse engine, as a child process.

Issue #4: a mixed batch gives exactly the expected valid and rejected records;
issue #4/#5: SIGKILL twice mid-stream, restart, and the tables equal the
ground truth exactly; issue #5: a ClickHouse outage ends with every row
written once and the worker alive; inserts come in batches of thousands.
"""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from processors.frame import write_frame
from schemas.catalog import subject_for
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from streams.topics import (
    SUBMISSIONS,
    SUBMISSIONS_REJECTED,
    SUBMISSIONS_VALID,
    TopicSpec,
    ensure_topics,
    named,
)
from tests import builders as b
from tests.backends import KafkaBackend
from tests.worker_harness import WorkerProcess, read_all, running

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(unique_topic: Callable[[str], str]) -> str:
    return unique_topic("w").replace(".", "-")


@pytest.fixture
def topics(kafka: KafkaBackend, prefix: str) -> dict[str, str]:
    names = {t: named(t, prefix) for t in (SUBMISSIONS, SUBMISSIONS_VALID, SUBMISSIONS_REJECTED)}
    ensure_topics(kafka.bootstrap, [TopicSpec(name, 3, 1) for name in names.values()])
    return names


@pytest.fixture
def registry() -> LocalRegistry:
    return LocalRegistry()


def _household(n: int, revision: int = 1, submission_id: str | None = None) -> dict[str, Any]:
    """A distinct KEMENDAGRI-coded household of Cakru with its own NIKs."""
    record = b.kemendagri_submission(
        household_id=f"35.09.02.2001-0003-{n:04d}-01",
        revision=revision,
        submission_id=submission_id
        or str(uuid.UUID(int=random.Random(n * 10 + revision).getrandbits(128))),
    )
    for member in record["members"]:
        if member.get("nik"):
            member["nik"] = member["nik"][:12] + f"{n % 10000:04d}"
    return record


def _publish(
    bootstrap: str, topic: str, registry: LocalRegistry, records: list[dict[str, Any]]
) -> None:
    serializer = AvroSerializer(registry, subject_for("HouseholdSubmission"), "HouseholdSubmission")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for record in records:
        producer.send(topic, key=record["household_id"].encode(), value=serializer.encode(record))
    producer.flush()
    producer.close()


def _decoded(records: list[Any], registry: LocalRegistry, name: str) -> list[dict[str, Any]]:
    decoder = AvroDeserializer(registry, name)
    return [decoder.decode(r.value) for r in records]


def test_mixed_batch_gives_exact_valid_and_rejected_topics(
    kafka: KafkaBackend,
    prefix: str,
    topics: dict[str, str],
    registry: LocalRegistry,
    tmp_path: Path,
) -> None:
    frame = b.rules_frame()
    write_frame(
        tmp_path / "frame",
        frame.enumerators.values(),
        [a for e, cells in frame.assignments.items() for a in _assignments(e, cells)],
        [],
    )
    clean = _household(1)
    retry = dict(clean)  # the app sends the same submission again
    revision2 = _household(1, revision=2)
    bps = b.household_submission(household_id="3509010001-0003-0002-01")
    bad_nik = _household(3)
    bad_nik["members"][0]["nik"] = "35090212"
    bad_age = _household(4)
    bad_age["members"][0]["age"] = 130
    sex_mismatch = _household(5)
    sex_mismatch["members"][0]["nik"] = "3509025205800005"  # day 52 = a woman's NIK on the head
    old_app = b.household_submission_v1(household_id="3509010001-0003-0006-01")
    _publish(
        kafka.bootstrap,
        topics[SUBMISSIONS],
        registry,
        [clean, retry, revision2, bps, bad_nik, bad_age, sex_mismatch],
    )
    v1 = AvroSerializer(
        registry, subject_for("HouseholdSubmission"), "HouseholdSubmission", version=1
    )
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    producer.send(
        topics[SUBMISSIONS], key=old_app["household_id"].encode(), value=v1.encode(old_app)
    )
    producer.send(topics[SUBMISSIONS], key=b"corrupt", value=b"\x07not avro at all")
    producer.send(
        topics[SUBMISSIONS], key=b"unknown", value=b"\x00" + struct.pack(">I", 999) + b"\x02"
    )
    producer.flush()
    producer.close()

    worker = WorkerProcess(
        kafka.bootstrap, prefix, tmp_path, {"REGSOSEK_FRAME_DIR": str(tmp_path / "frame")}
    )
    with running(worker):
        worker.wait_idle()
        stats = worker.page("/stats")
    assert stats["dropped"] == {"duplicate": 1}

    valid = _decoded(
        read_all(kafka.bootstrap, topics[SUBMISSIONS_VALID]), registry, "ValidatedSubmission"
    )
    seen = sorted(
        (
            v["submission"]["household_id"],
            v["submission"]["revision"],
            tuple(sorted(w["code"] for w in v["warnings"])),
        )
        for v in valid
    )
    assert seen == [
        ("35.09.02.2001-0003-0001-01", 1, ()),
        ("35.09.02.2001-0003-0001-01", 2, ()),
        ("35.09.02.2001-0003-0005-01", 1, ("NIK_SEX_MISMATCH",)),
        ("3509010001-0003-0002-01", 1, ("REGION_VILLAGE_UNVERIFIED",)),
        ("3509010001-0003-0006-01", 1, ("REGION_VILLAGE_UNVERIFIED",)),
    ]
    rejected = _decoded(
        read_all(kafka.bootstrap, topics[SUBMISSIONS_REJECTED]), registry, "Rejection"
    )
    reasons = sorted(
        (r["household_id"] or "", tuple(sorted({x["code"] for x in r["reasons"]}))) for r in rejected
    )
    assert reasons == [
        ("", ("DECODE_BAD_MAGIC_BYTE",)),
        ("", ("DECODE_UNKNOWN_SCHEMA_ID",)),
        ("35.09.02.2001-0003-0003-01", ("NIK_FORMAT",)),
        ("35.09.02.2001-0003-0004-01", ("AGE_RANGE",)),
    ]
    corrupt = next(r for r in rejected if r["reasons"][0]["code"] == "DECODE_BAD_MAGIC_BYTE")
    assert corrupt["original"] == b"\x07not avro at all"
    assert corrupt["source_topic"] == topics[SUBMISSIONS]


def _assignments(enumerator: str, cells: set[tuple[str, str]]) -> Iterator[Any]:
    from processors.frame import Assignment  # noqa: PLC0415

    for village, sls in sorted(cells):
        yield Assignment(enumerator, village, sls)
