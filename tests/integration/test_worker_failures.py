"""Failures of one record stay that record's: the worker against the real broker and engine.

Issue #12: a value at the broker's size limit, published by a raw producer,
once crash-looped the worker and stopped every partition; a row ClickHouse
refuses for good held its whole batch forever. Both must end as one rejection
with a reason code while every other household, on every partition, arrives
exactly once, and the worker never restarts.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from schemas.catalog import subject_for
from schemas.limits import BROKER_MESSAGE_MAX_BYTES, MAX_RECORD_BYTES, QUARANTINE_ORIGINAL_BYTES
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from streams.topics import (
    SUBMISSIONS,
    SUBMISSIONS_REJECTED,
    SUBMISSIONS_VALID,
)
from tests import builders as b
from tests.backends import KafkaBackend
from tests.topics import read_topic
from tests.worker_harness import ROOT, WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

PARTITIONS = 3


@pytest.fixture
def prefix(unique_topic: Callable[[str], str]) -> str:
    return unique_topic("wf").replace(".", "-")


@pytest.fixture
def topics(kafka: KafkaBackend, prefix: str) -> dict[str, str]:
    return create_worker_topics(kafka.bootstrap, prefix, PARTITIONS)


def _household_id(n: int) -> str:
    return f"35.09.02.2001-0004-{n:04d}-01"


def _encoded(n: int) -> bytes:
    record = b.kemendagri_submission(household_id=_household_id(n))
    for member in record["members"]:
        if member.get("nik"):
            member["nik"] = member["nik"][:12] + f"{n % 10000:04d}"
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    return serializer.encode(record)


def _send_households(producer: KafkaProducer, topic: str, numbers: range) -> dict[int, bytes]:
    """Households spread over every partition explicitly, so each one must flow."""
    sent = {n: _encoded(n) for n in numbers}
    for n, value in sent.items():
        producer.send(topic, key=_household_id(n).encode(), value=value, partition=n % PARTITIONS)
    producer.flush()
    return sent


def _stored(worker: WorkerProcess) -> dict[str, Any]:
    (counts,) = worker.query(
        "SELECT (SELECT count() FROM regsosek.households FINAL) AS final,"
        " (SELECT count() FROM regsosek.households) AS rows,"
        " (SELECT count() FROM regsosek.members_current) AS members"
    )
    rejections = worker.query(
        "SELECT household_id, reason_codes FROM regsosek.rejections ORDER BY household_id"
    )
    return {**counts, "rejections": rejections}


def _decoded(bootstrap: str, topic: str, name: str) -> list[dict[str, Any]]:
    decoder = AvroDeserializer(LocalRegistry(), name)
    return [decoder.decode(record.value) for record in read_topic(bootstrap, topic)]


def test_a_value_at_the_broker_limit_is_rejected_and_every_partition_flows(
    kafka: KafkaBackend, prefix: str, topics: dict[str, str], tmp_path: Path
) -> None:
    # a raw producer, as an old app or a misbehaving client would: nothing checks the size
    producer = KafkaProducer(
        bootstrap_servers=kafka.bootstrap, acks="all", max_request_size=BROKER_MESSAGE_MAX_BYTES
    )
    _send_households(producer, topics[SUBMISSIONS], range(0, 30))
    schema_id, _version, _schema = LocalRegistry().latest(subject_for("HouseholdSubmission"))
    header = b"\x00" + struct.pack(">I", schema_id)
    huge = header + bytes(BROKER_MESSAGE_MAX_BYTES - 1024 - len(header))
    oversize_key = _household_id(9999).encode()
    producer.send(topics[SUBMISSIONS], key=oversize_key, value=huge, partition=0).get(timeout=30)
    _send_households(producer, topics[SUBMISSIONS], range(30, 60))  # after it, on all partitions
    producer.close()

    worker = WorkerProcess(kafka.bootstrap, prefix, tmp_path)
    with running(worker):
        worker.wait_idle()
        assert worker.proc is not None and worker.proc.poll() is None
    assert worker.starts == 1 and "could not finish" not in worker.log.read_text()

    stored = _stored(worker)
    assert (stored["final"], stored["rows"], stored["members"]) == (60, 60, 60 * 4)
    assert stored["rejections"] == [
        {"household_id": oversize_key.decode(), "reason_codes": ["SUBMISSION_TOO_LARGE"]}
    ]
    (rejection,) = _decoded(kafka.bootstrap, topics[SUBMISSIONS_REJECTED], "Rejection")
    assert rejection["original_size"] == len(huge)
    assert rejection["original"] == huge[:QUARANTINE_ORIGINAL_BYTES]
    assert rejection["source_partition"] == 0
    valid = _decoded(kafka.bootstrap, topics[SUBMISSIONS_VALID], "ValidatedSubmission")
    assert len(valid) == 60
    published = read_topic(kafka.bootstrap, topics[SUBMISSIONS_REJECTED])
    assert all(len(record.value) < MAX_RECORD_BYTES for record in published)


def _refuse_household(state_dir: Path, household_id: str) -> None:
    """Migrate the worker's engine and add a constraint that refuses one household for good."""
    script = (
        "import sys\n"
        "from sinks.clickhouse import client_from_dsn\n"
        "from sinks.migrations import migrate\n"
        "client = client_from_dsn(f'chdb://{sys.argv[1]}/clickhouse')\n"
        "migrate(client, database='regsosek')\n"
        'client.command("ALTER TABLE regsosek.households ADD CONSTRAINT refused_for_good"\n'
        "               f\" CHECK household_id != '{sys.argv[2]}'\")\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(state_dir), household_id],
        check=True,
        cwd=ROOT,
        timeout=120,
    )


def test_a_row_clickhouse_refuses_for_good_is_quarantined_alone(
    kafka: KafkaBackend, prefix: str, topics: dict[str, str], tmp_path: Path
) -> None:
    refused = _household_id(17)
    _refuse_household(tmp_path, refused)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    sent = _send_households(producer, topics[SUBMISSIONS], range(0, 40))
    producer.close()

    worker = WorkerProcess(kafka.bootstrap, prefix, tmp_path)
    with running(worker):
        worker.wait_idle()
        stats = worker.page("/stats")
    assert stats["sink_failing"] == {} and stats["rejected"] == 1, stats
    assert worker.starts == 1 and "could not finish" not in worker.log.read_text()

    stored = _stored(worker)
    # the other 39 are written once: no duplicate rows even before merges
    assert (stored["final"], stored["rows"], stored["members"]) == (39, 39, 39 * 4)
    assert stored["rejections"] == [{"household_id": refused, "reason_codes": ["INSERT_REFUSED"]}]
    valid = _decoded(kafka.bootstrap, topics[SUBMISSIONS_VALID], "ValidatedSubmission")
    assert sorted(v["submission"]["household_id"] for v in valid) == sorted(
        _household_id(n) for n in range(40) if n != 17
    )
    (rejection,) = _decoded(kafka.bootstrap, topics[SUBMISSIONS_REJECTED], "Rejection")
    assert rejection["household_id"] == refused
    assert rejection["original"] == sent[17]
    assert "refused_for_good" in rejection["reasons"][0]["message"]


def test_dedup_state_survives_a_restart_through_the_changelog(
    kafka: KafkaBackend, prefix: str, topics: dict[str, str], tmp_path: Path
) -> None:
    """The worker writes its dedup states' changelog itself; a new worker must recover them."""
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    sent = _send_households(producer, topics[SUBMISSIONS], range(0, 12))
    worker = WorkerProcess(kafka.bootstrap, prefix, tmp_path)
    with running(worker):
        worker.wait_idle()
    for n in (1, 5, 9):  # the apps retry three submissions after the restart
        producer.send(topics[SUBMISSIONS], key=_household_id(n).encode(), value=sent[n])
    producer.flush()
    producer.close()
    with running(worker):
        worker.wait_idle()
        stats = worker.page("/stats")
    assert stats["dropped"] == {"duplicate": 3}, stats
    assert stats["valid"] == 0
    valid = _decoded(kafka.bootstrap, topics[SUBMISSIONS_VALID], "ValidatedSubmission")
    assert len(valid) == 12
