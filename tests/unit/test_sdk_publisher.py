"""SDK choices that need no broker: producer settings, validation and size before any I/O."""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from kafka.errors import KafkaTimeoutError, NotLeaderForPartitionError

import streams.sdk
from schemas.errors import SchemaValidationError
from schemas.limits import (
    BROKER_MESSAGE_MAX_BYTES,
    MAX_RECORD_BYTES,
    MAX_SUBMISSION_BYTES,
    TOO_LARGE_CODE,
)
from schemas.registry import LocalRegistry
from schemas.validate import FieldError
from streams.sdk import (
    CheckedRecord,
    EnumeratorEventPublisher,
    ProducerOptions,
    PublishError,
    Receipt,
    RecordTooLargeError,
    RejectedRecord,
    SubmissionPublisher,
)
from tests.builders import enumerator_event, household_submission

# Nothing listens on port 9 (discard) on these machines; a connection attempt
# would fail, so a test that passes here proves no connection was attempted.
NOWHERE = "127.0.0.1:9"


@pytest.fixture(scope="module")
def registry() -> LocalRegistry:
    return LocalRegistry()


def test_producer_config_is_durable_and_idempotent() -> None:
    config = ProducerOptions().producer_config("k1:9092,k2:9092")
    assert config["acks"] == "all"
    assert config["enable_idempotence"] is True
    assert config["compression_type"] == "gzip"
    assert config["bootstrap_servers"] == "k1:9092,k2:9092"


def test_delivery_timeout_covers_linger_and_one_request() -> None:
    """Kafka refuses a delivery timeout below linger + request timeout."""
    config = ProducerOptions(timeout_ms=1500, linger_ms=20).producer_config("k:9092")
    assert config["delivery_timeout_ms"] >= config["linger_ms"] + config["request_timeout_ms"]
    assert config["max_block_ms"] == config["bootstrap_timeout_ms"] == 1500


def test_wait_outlasts_the_producers_own_delivery_bound() -> None:
    options = ProducerOptions(timeout_ms=2000, linger_ms=5)
    assert options.wait_s * 1000 > options.producer_config("k:9092")["delivery_timeout_ms"]


def test_default_compression_needs_no_extra_package() -> None:
    from kafka.codec import has_gzip  # noqa: PLC0415

    assert has_gzip()


def test_invalid_record_is_refused_before_any_connection(registry: LocalRegistry) -> None:
    record = household_submission()
    record["members"][0]["sex"] = "L"
    del record["revision"]
    publisher = SubmissionPublisher(NOWHERE, registry)
    with pytest.raises(SchemaValidationError) as caught:
        publisher.publish(record)
    paths = {error.path for error in caught.value.errors}
    assert paths == {"members[0].sex", "revision"}
    assert "allowed: MALE, FEMALE" in str(caught.value)
    assert publisher._producer is None, "validation happens before connecting"


def test_all_invalid_batch_is_reported_without_connecting(registry: LocalRegistry) -> None:
    bad = [household_submission(revision="x"), household_submission(household_id=7)]
    publisher = SubmissionPublisher(NOWHERE, registry)
    outcomes = publisher.publish_batch(bad)
    assert [type(o) for o in outcomes] == [RejectedRecord, RejectedRecord]
    assert [o.index for o in outcomes if isinstance(o, RejectedRecord)] == [0, 1]
    first = outcomes[0]
    assert isinstance(first, RejectedRecord)
    assert first.record_id == bad[0]["submission_id"]
    assert first.errors[0].path == "revision"
    assert publisher._producer is None


def test_unreachable_broker_is_a_retriable_publish_error(registry: LocalRegistry) -> None:
    with socket.socket() as sock:  # a port that is bound but never accepts
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        options = ProducerOptions(timeout_ms=500, reconnect_backoff_s=30)
        publisher = SubmissionPublisher(f"127.0.0.1:{port}", registry, options=options)
        with pytest.raises(PublishError) as caught:
            publisher.publish(household_submission())
        assert caught.value.retriable
        assert caught.value.exit_code == 6  # a BrokerError for the CLI
        with pytest.raises(PublishError, match="unreachable moments ago"):
            publisher.publish(household_submission())  # backoff: no second full timeout


def test_event_publisher_keys_by_enumerator(registry: LocalRegistry) -> None:
    publisher = EnumeratorEventPublisher(NOWHERE, registry)
    event: dict[str, Any] = enumerator_event(enumerator_id="0412")
    key, value = publisher.encode(event)
    assert key == b"0412"
    assert value[0] == 0, "Confluent magic byte"


def test_receipt_names_the_submission() -> None:
    receipt = Receipt("regsosek.submissions", 2, 41, "sub-1")
    assert receipt.submission_id == "sub-1"


def test_rejected_record_reads_well() -> None:
    rejected = RejectedRecord(3, "sub-9", (FieldError("members", "missing required field"),))
    assert str(rejected) == "record 3 (sub-9): members: missing required field"


# --- size limits (schemas/limits.py) ---------------------------------------------------


def sized_submission(publisher: SubmissionPublisher, wire_bytes: int) -> dict[str, Any]:
    """A valid submission whose Confluent-framed Avro value is exactly ``wire_bytes`` long."""
    record = household_submission()
    record["enumeration"]["notes"] = ""
    length = wire_bytes - len(publisher.serializer.encode(record))
    for _ in range(4):  # the string's length prefix grows by a byte now and then
        record["enumeration"]["notes"] = "x" * length
        size = len(publisher.serializer.encode(record))
        if size == wire_bytes:
            return record
        length -= size - wire_bytes
    raise AssertionError(f"cannot build a submission of {wire_bytes} bytes")


def test_producer_request_size_is_the_shared_limit_on_purpose() -> None:
    config = ProducerOptions().producer_config("k:9092")
    assert config["max_request_size"] == MAX_RECORD_BYTES
    assert MAX_SUBMISSION_BYTES < MAX_RECORD_BYTES < BROKER_MESSAGE_MAX_BYTES


def test_submission_at_the_limit_encodes(registry: LocalRegistry) -> None:
    publisher = SubmissionPublisher(NOWHERE, registry)
    record = sized_submission(publisher, MAX_SUBMISSION_BYTES)
    _key, value = publisher.encode(record)
    assert len(value) == MAX_SUBMISSION_BYTES


def test_too_large_submission_is_refused_before_any_connection(registry: LocalRegistry) -> None:
    publisher = SubmissionPublisher(NOWHERE, registry)
    record = sized_submission(publisher, MAX_SUBMISSION_BYTES + 1)
    with pytest.raises(RecordTooLargeError) as caught:
        publisher.publish(record)
    refused = caught.value
    assert (refused.code, refused.size, refused.limit) == (
        TOO_LARGE_CODE,
        MAX_SUBMISSION_BYTES + 1,
        MAX_SUBMISSION_BYTES,
    )
    assert refused.record_id == record["submission_id"]
    text = str(refused)
    assert text.startswith(f"{TOO_LARGE_CODE}: ")
    assert f"{MAX_SUBMISSION_BYTES + 1} bytes" in text
    assert f"limit of {MAX_SUBMISSION_BYTES} bytes" in text
    assert publisher._producer is None, "refused before connecting"


def test_too_large_record_of_a_batch_is_rejected_with_the_reason_code(
    registry: LocalRegistry,
) -> None:
    publisher = SubmissionPublisher(NOWHERE, registry)
    big = sized_submission(publisher, MAX_SUBMISSION_BYTES + 1)
    outcomes = publisher.publish_batch([household_submission(revision="x"), big])
    assert [o.code for o in outcomes if isinstance(o, RejectedRecord)] == [None, TOO_LARGE_CODE]
    too_large = outcomes[1]
    assert isinstance(too_large, RejectedRecord)
    assert too_large.record_id == big["submission_id"]
    assert TOO_LARGE_CODE in str(too_large)
    assert publisher._producer is None


def test_a_checked_record_is_not_validated_again(
    registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = SubmissionPublisher(NOWHERE, registry)
    calls: list[Mapping[str, Any]] = []
    validator = publisher.serializer._validator
    check = validator.validate

    def counted(record: Mapping[str, Any]) -> list[FieldError]:
        calls.append(record)
        return check(record)

    monkeypatch.setattr(validator, "validate", counted)
    record = household_submission()
    plain_key, plain_value = publisher.encode(record)
    assert len(calls) == 1, "a plain record is validated"
    assert publisher.encode(CheckedRecord(record, "HouseholdSubmission")) == (
        plain_key,
        plain_value,
    )
    assert len(calls) == 1, "a checked record of the same schema is not"
    publisher.encode(CheckedRecord(record, "EnumeratorEvent"))
    assert len(calls) == 2, "checked against another schema: validated"


class _Future:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float) -> Any:
        if self.error is not None:
            raise self.error
        return Receipt("t", 0, 7, "")


class _Producer:
    """Stands in for KafkaProducer: its sends fail with ``error`` (pure logic under test)."""

    made: ClassVar[list[_Producer]] = []

    def __init__(self, **_config: Any) -> None:
        self.error: Exception | None = None
        self.closed = False
        _Producer.made.append(self)

    def send(self, topic: str, key: bytes, value: bytes) -> _Future:
        return _Future(self.error)

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def test_a_producer_whose_records_expired_is_replaced(
    registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kafka-python's idempotent producer can stay wedged after a leader died (chaos soak)."""
    monkeypatch.setattr(streams.sdk, "KafkaProducer", _Producer)
    _Producer.made = []
    publisher = SubmissionPublisher("k:9092", registry)
    publisher.connect()
    first = _Producer.made[0]
    first.error = NotLeaderForPartitionError()  # retriable, the same producer goes on
    with pytest.raises(PublishError):
        publisher.publish(household_submission())
    assert len(_Producer.made) == 1
    first.error = KafkaTimeoutError("Expiring 1 record(s)")
    with pytest.raises(PublishError):
        publisher.publish(household_submission())
    receipt = publisher.publish(household_submission())  # a new producer took over
    assert len(_Producer.made) == 2 and _Producer.made[1] is not first
    assert receipt.offset == 7
    for _ in range(50):
        if first.closed:
            break
        time.sleep(0.02)
    assert first.closed, "the wedged producer is closed in the background"
