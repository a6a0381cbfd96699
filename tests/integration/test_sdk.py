"""The SDK against the real broker: receipts, keys, wire format, offline batches.

Every check reads the topic back with a plain consumer, so a receipt is only
trusted when the record really sits at the partition and offset it names.
"""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader

from schemas.catalog import SUBJECTS
from schemas.errors import SchemaValidationError
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer
from streams.sdk import (
    EnumeratorEventPublisher,
    ProducerOptions,
    PublishError,
    Receipt,
    RejectedRecord,
    SubmissionPublisher,
)
from streams.topics import TopicSpec, TopicState, ensure_topics
from tests.backends import KafkaBackend, free_port
from tests.builders import enumerator_event, household_submission
from tests.topics import read_topic

pytestmark = pytest.mark.integration

PARTITIONS = 3


@pytest.fixture(scope="module")
def registry() -> LocalRegistry:
    return LocalRegistry()


@pytest.fixture
def topic(kafka: KafkaBackend, unique_topic: Callable[[str], str]) -> str:
    name = unique_topic("sdk")
    (report,) = ensure_topics(kafka.bootstrap, [TopicSpec(name, PARTITIONS, 1)])
    assert report.state is TopicState.CREATED
    return name


@pytest.fixture
def publisher(
    kafka: KafkaBackend, registry: LocalRegistry, topic: str
) -> Iterator[SubmissionPublisher]:
    with SubmissionPublisher(kafka.bootstrap, registry, topic=topic) as opened:
        yield opened


def test_round_trip_gives_back_the_same_record(
    kafka: KafkaBackend, registry: LocalRegistry, publisher: SubmissionPublisher, topic: str
) -> None:
    record = household_submission()
    receipt = publisher.publish(record)
    assert receipt.topic == topic
    assert receipt.submission_id == record["submission_id"]

    (message,) = read_topic(kafka.bootstrap, topic)
    assert (message.partition, message.offset) == (receipt.partition, receipt.offset)
    decoded = AvroDeserializer(registry, "HouseholdSubmission").decode(message.value)
    assert decoded == record  # aware datetimes compare by instant (WIB in, UTC out)


def test_wire_format_reads_with_an_independent_decoder(
    kafka: KafkaBackend, registry: LocalRegistry, publisher: SubmissionPublisher, topic: str
) -> None:
    """Magic byte and schema id by hand, body by plain fastavro: Confluent's format."""
    record = household_submission()
    publisher.publish(record)
    (message,) = read_topic(kafka.bootstrap, topic)

    magic, schema_id = struct.unpack(">bI", message.value[:5])
    assert magic == 0
    _version, latest_id, _schema = registry.latest("regsosek.submissions-value")
    assert SUBJECTS["regsosek.submissions-value"] == "HouseholdSubmission"
    assert schema_id == latest_id == publisher.serializer.schema_id
    writer = parse_schema(registry.get_by_id(schema_id))
    body = io.BytesIO(message.value[5:])
    decoded: Any = schemaless_reader(body, writer, None)
    assert body.tell() == len(message.value) - 5, "no trailing bytes"
    assert decoded["submission_id"] == record["submission_id"]
    assert decoded["members"][0]["nik"] == record["members"][0]["nik"]
    assert decoded["enumeration"]["started_at"] == record["enumeration"]["started_at"]


def test_key_is_the_household_and_keeps_it_on_one_partition(
    kafka: KafkaBackend, publisher: SubmissionPublisher, topic: str
) -> None:
    households = [f"3509010001-0003-{n:03d}-01" for n in range(12)]
    receipts: dict[str, set[int]] = {}
    for revision in (1, 2, 3):
        for household in households:
            receipt = publisher.publish(
                household_submission(household_id=household, revision=revision)
            )
            receipts.setdefault(household, set()).add(receipt.partition)
    assert all(len(partitions) == 1 for partitions in receipts.values())
    assert len({p for parts in receipts.values() for p in parts}) > 1, "households spread out"

    messages = read_topic(kafka.bootstrap, topic)
    assert len(messages) == 36
    for message in messages:
        household = message.key.decode()
        assert receipts[household] == {message.partition}


def test_batch_reports_the_bad_record_and_sends_the_rest(
    kafka: KafkaBackend, registry: LocalRegistry, publisher: SubmissionPublisher, topic: str
) -> None:
    records = [household_submission(household_id=f"hh-{n}") for n in range(5)]
    records[2]["members"][1]["sex"] = "PEREMPUAN"
    outcomes = publisher.publish_batch(records)

    assert [type(o).__name__ for o in outcomes] == [
        "Receipt", "Receipt", "RejectedRecord", "Receipt", "Receipt"
    ]  # fmt: skip
    rejected = outcomes[2]
    assert isinstance(rejected, RejectedRecord)
    assert rejected.record_id == records[2]["submission_id"]
    assert [e.path for e in rejected.errors] == ["members[1].sex"]
    assert "allowed: MALE, FEMALE" in rejected.errors[0].problem

    receipts = [o for o in outcomes if isinstance(o, Receipt)]
    stored = {
        (m.partition, m.offset): AvroDeserializer(registry, "HouseholdSubmission").decode(m.value)
        for m in read_topic(kafka.bootstrap, topic)
    }
    assert len(stored) == 4
    for receipt in receipts:
        assert stored[receipt.partition, receipt.offset]["submission_id"] == receipt.submission_id
    assert records[2]["submission_id"] not in {r["submission_id"] for r in stored.values()}


def test_invalid_single_record_never_reaches_the_topic(
    kafka: KafkaBackend, publisher: SubmissionPublisher, topic: str
) -> None:
    with pytest.raises(SchemaValidationError, match="revision"):
        publisher.publish(household_submission(revision=None))
    publisher.publish(household_submission())
    assert len(read_topic(kafka.bootstrap, topic)) == 1


def test_enumerator_events_are_keyed_by_enumerator(
    kafka: KafkaBackend, registry: LocalRegistry, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("events")
    ensure_topics(kafka.bootstrap, [TopicSpec(topic, PARTITIONS, 1)])
    event = enumerator_event(enumerator_id="0412")
    with EnumeratorEventPublisher(kafka.bootstrap, registry, topic=topic) as events:
        receipt = events.publish(event)
    assert receipt.record_id == event["event_id"]
    (message,) = read_topic(kafka.bootstrap, topic)
    assert message.key == b"0412"
    assert (message.partition, message.offset) == (receipt.partition, receipt.offset)
    assert AvroDeserializer(registry, "EnumeratorEvent").decode(message.value) == event


def test_nothing_listening_is_a_fast_publish_error(registry: LocalRegistry) -> None:
    options = ProducerOptions(timeout_ms=1000)
    publisher = SubmissionPublisher(f"127.0.0.1:{free_port()}", registry, options=options)
    started = time.monotonic()
    with pytest.raises(PublishError) as caught:
        publisher.publish(household_submission())
    assert time.monotonic() - started < 10
    assert caught.value.retriable
    publisher.close()
